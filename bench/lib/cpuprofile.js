// Reads a V8 .cpuprofile (node --cpu-prof) into where the time went: by area (engine,
// pg driver, JSON, Node internals, GC, idle) and the hottest functions by self time.
import { existsSync, readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * The CLI runs from a bundle (scripts/bundle.js): a frame in dist/bundle/ is mapped back
 * through the bundle's source map to the file it came from (dist/engine/…, node_modules/pg/…).
 */
const maps = new Map()
function original(frame) {
  const url = frame.url ?? ''
  if (!/\/dist\/bundle\/[^/]+\.js$/.test(url)) return frame
  if (!maps.has(url)) {
    const file = url.startsWith('file:') ? fileURLToPath(url) : url
    maps.set(url, existsSync(`${file}.map`) ? { map: new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))), base: pathToFileURL(file) } : null)
  }
  const m = maps.get(url)
  const entry = m?.map.findEntry(frame.lineNumber, frame.columnNumber)
  if (!entry?.originalSource) return frame
  return { ...frame, url: new URL(entry.originalSource, m.base).href, lineNumber: entry.originalLine }
}

function area(frame) {
  const url = frame.url ?? ''
  const fn = frame.functionName
  if (fn === '(idle)') return 'idle'
  if (fn === '(garbage collector)') return 'gc'
  if (fn === '(program)') return 'program (V8, native)'
  if (/node_modules\/(pg|pg-protocol|pg-pool|pg-types|pgpass|postgres-)/.test(url)) return 'pg driver'
  if (/node_modules\/@oclif|node_modules\/(ansis|chalk|yaml|zod|lilconfig|ejs|cli-table3|wrap-ansi)/.test(url)) return 'cli libraries'
  if (/node_modules\//.test(url)) return 'other libraries'
  // dist/ (tsc's output) or src/, where the bundle's source map leads through tsc's own.
  if (/\/(dist|src)\/engine\//.test(url)) return 'engine'
  if (/\/(dist|src)\/db\//.test(url)) return 'db layer'
  if (/\/(dist|src)\//.test(url)) return 'sagactl other'
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
    const f = original(byId.get(id).callFrame)
    const a = area(f)
    total += us
    if (a === 'idle') {
      idle += us
      continue
    }
    areas.set(a, (areas.get(a) ?? 0) + us)
    const key = `${f.functionName || '(anonymous)'} ${(f.url || '').replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${f.lineNumber + 1}`
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
