// Reads a V8 .cpuprofile (node --cpu-prof) into where the time went: by area (engine,
// pg driver, JSON, Node internals, GC, idle) and the hottest functions by self time.
import { readFileSync } from 'node:fs'

function area(frame) {
  const url = frame.url ?? ''
  const fn = frame.functionName
  if (fn === '(idle)') return 'idle'
  if (fn === '(garbage collector)') return 'gc'
  if (fn === '(program)') return 'program (V8, native)'
  if (/node_modules\/(pg|pg-protocol|pg-pool|pg-types|pgpass|postgres-)/.test(url)) return 'pg driver'
  if (/node_modules\/@oclif|node_modules\/(ansis|chalk|yaml|zod|lilconfig|ejs|cli-table3|wrap-ansi)/.test(url)) return 'cli libraries'
  if (/node_modules\//.test(url)) return 'other libraries'
  if (/\/dist\/engine\//.test(url)) return 'engine'
  if (/\/dist\/db\//.test(url)) return 'db layer'
  if (/\/dist\//.test(url)) return 'sagactl other'
  if (/\/bench\//.test(url)) return 'steps'
  if (url.startsWith('node:') || url === '') {
    if (/^(stringify|parse)$/.test(fn)) return 'JSON'
    return url === '' ? 'native/builtins' : 'node internals'
  }
  return 'other'
}

export function summariseProfile(file, top = 12) {
  const prof = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const self = new Map()
  // timeDeltas[i] is the time before sample i: charge it to that sample's node.
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i]
    self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0))
  }
  const areas = new Map()
  const fns = new Map()
  let total = 0
  let idle = 0
  for (const [id, us] of self) {
    const f = byId.get(id).callFrame
    const a = area(f)
    total += us
    if (a === 'idle') {
      idle += us
      continue
    }
    areas.set(a, (areas.get(a) ?? 0) + us)
    const key = `${f.functionName || '(anonymous)'} ${(f.url || '').replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}`
    fns.set(key, (fns.get(key) ?? 0) + us)
  }
  const busy = total - idle
  const pct = (us) => Math.round((1000 * us) / Math.max(1, busy)) / 10
  return {
    wallMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ area: name, ms: Math.round(us / 1000), pct: pct(us) })),
    hottest: [...fns].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, us]) => ({ fn, ms: Math.round(us / 1000), pct: pct(us) })),
  }
}
