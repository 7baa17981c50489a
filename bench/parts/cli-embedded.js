// d (continued). Short commands on the embedded default: with no owner (the command opens
// PGlite itself), through an owner (a long-running sagactl serves the directory), and the
// same commands against the real server, on the same small data.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { THREE } from '../lib/engine-run.js'
import { freshSchema } from '../lib/sagactl.js'
import { exited, median, percentile, runCli, spawnCli, waitUntil } from '../lib/util.js'
import { fmt } from './throughput.js'

const SCHEMA = 'cli_small'

async function timed(n, fn) {
  await fn()
  const ms = []
  for (let i = 0; i < n; i++) ms.push(await fn())
  return { median: median(ms), p90: percentile(ms, 90), min: Math.min(...ms), runs: ms.map((x) => Math.round(x)) }
}

async function ok(args, opts) {
  const r = await runCli(args, opts)
  if (r.code !== 0) throw new Error(`sagactl ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

/** list, start, show: median wall ms of each, on the database the extra args select. */
async function commands(n, cwd, extra) {
  const id = JSON.parse((await ok(['saga', 'start', 'bench-three', '--input', '{}', '--json', ...extra], { cwd })).stdout).id
  let k = 0
  return {
    list: await timed(n, async () => (await ok(['saga', 'list', '--json', '--limit', '50', ...extra], { cwd })).ms),
    start: await timed(n, async () => (await ok(['saga', 'start', 'bench-three', '--input', '{}', '--key', `b-${process.pid}-${k++}`, '--json', ...extra], { cwd })).ms),
    show: await timed(n, async () => (await ok(['saga', 'show', id, '--json', ...extra], { cwd })).ms),
  }
}

export async function embeddedRows(ctx, n) {
  const url = await ctx.cluster.ensureDatabase('sagactl_bench_list')
  await freshSchema(url, SCHEMA, [THREE.text])
  const dir = mkdtempSync(join(tmpdir(), 'sagactl-bench-cli-'))
  const defFile = join(dir, 'three.yaml')
  try {
    writeFileSync(defFile, THREE.text)
    await ok(['db', 'migrate'], { cwd: dir })
    await ok(['def', 'apply', defFile], { cwd: dir })
    const server = await commands(n, dir, ['--database-url', url, '--schema', SCHEMA])
    const alone = await commands(n, dir, [])
    // `metrics` is a long-running command: it owns the directory and serves it.
    const owner = spawnCli(['metrics', '--port', '0'], { cwd: dir })
    let through
    try {
      const serving = () => {
        try {
          return readFileSync(join(dir, '.sagactl/data/sagactl.owner'), 'utf8').includes('listen')
        } catch {
          return false
        }
      }
      await waitUntil(serving, { timeoutMs: 120_000, what: 'the owner to serve' }).catch((e) => {
        throw new Error(`${e.message}: ${owner.outputTail}`)
      })
      through = await commands(n, dir, [])
    } finally {
      owner.kill('SIGTERM')
      await exited(owner)
    }
    return { server, alone, through }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export function embeddedTable(r) {
  const rows = []
  for (const cmd of ['list', 'start', 'show']) {
    const s = r.server[cmd].median
    for (const [label, f] of [['PostgreSQL server', r.server], ['embedded, through an owner', r.through], ['embedded, no owner', r.alone]]) {
      rows.push([`saga ${cmd}`, label, fmt(f[cmd].median, 0), fmt(f[cmd].p90, 0), `${fmt(f[cmd].median / s, 2)}x`])
    }
  }
  return { head: ['command', 'database', 'median ms', 'p90 ms', 'vs server'], rows }
}
