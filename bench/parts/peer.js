// b. Peer: the same 3-step workflow on DBOS Transact against the same server, 8 and 32
// concurrent callers, compared with sagactl's single worker process at the same concurrency.
import { existsSync } from 'node:fs'
import { loadResult } from '../lib/report.js'
import { BENCH, log, median, runProcess } from '../lib/util.js'
import { fmt } from './throughput.js'

const PEERS = `${BENCH}peers/`
const RATIO_TARGET = 2
/** At concurrency 32, where batching pays, sagactl is held to more. */
const RATIO_TARGET_C32 = 7

async function ensureInstalled() {
  if (existsSync(`${PEERS}node_modules/@dbos-inc/dbos-sdk/package.json`)) return
  log('peer: installing @dbos-inc/dbos-sdk into bench/peers (benchmark only)')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const res = await runProcess(npm, ['install', '--prefix', PEERS, '--no-audit', '--no-fund'], { timeoutMs: 300_000 })
  if (res.code !== 0) throw new Error(`npm install --prefix bench/peers failed: ${res.stderr.trim().split('\n').pop()}`)
}

export default {
  name: 'peer',
  title: 'b. Peer: DBOS Transact, same workflow, same server',
  async run(ctx) {
    await ensureInstalled()
    const workflows = ctx.quick ? 1_000 : 2_000
    const levels = [8, 32]
    const results = new Map(levels.map((c) => [c, []]))
    for (let r = 0; r < ctx.runs; r++) {
      for (const c of levels) {
        const url = await ctx.cluster.freshDatabase('sagactl_bench_dbos')
        const res = await runProcess(process.execPath, [`${PEERS}dbos.js`, '--url', url, '--workflows', String(workflows), '--concurrency', String(c)], { timeoutMs: 600_000 })
        if (res.code !== 0) throw new Error(`DBOS run failed: ${res.stderr.trim().split('\n').slice(-3).join(' ')}`)
        const out = JSON.parse(res.stdout.trim().split('\n').pop())
        if (out.durableSucceeded !== out.expectedSucceeded) throw new Error(`DBOS recorded ${out.durableSucceeded} successful workflows, expected ${out.expectedSucceeded}`)
        log(`  DBOS c${c}: ${out.workflowsPerSec.toFixed(0)} workflows/s, p50 ${out.p50Ms.toFixed(1)} ms, p99 ${out.p99Ms.toFixed(1)} ms`)
        results.get(c).push(out)
      }
    }
    const own = loadResult('throughput')
    const ownRate = (c) => own?.configs?.find((x) => x.workers === 1 && x.concurrency === c)?.sagasPerSec ?? null
    const rows = levels.map((c) => {
      const rs = results.get(c)
      const dbos = median(rs.map((x) => x.workflowsPerSec))
      const mine = ownRate(c)
      return {
        concurrency: c,
        dbosPerSec: dbos,
        p50Ms: median(rs.map((x) => x.p50Ms)),
        p99Ms: median(rs.map((x) => x.p99Ms)),
        dbosNodeCpuMs: median(rs.map((x) => x.nodeCpuMsPerWorkflow)),
        sagactlPerSec: mine,
        ratio: mine === null ? null : mine / dbos,
        runs: rs,
      }
    })
    return {
      title: this.title,
      params: { workflows, warmup: 50, peer: '@dbos-inc/dbos-sdk 5.3.0 (bench/peers, default settings, logLevel error)' },
      configs: rows,
      targets: rows.map((r) => {
        const wanted = r.concurrency >= 32 ? RATIO_TARGET_C32 : RATIO_TARGET
        return {
          metric: `sagactl (1 worker process) / DBOS at concurrency ${r.concurrency}`,
          value: r.ratio === null ? null : `${fmt(r.ratio, 2)}x`,
          target: `>= ${wanted}x`,
          met: r.ratio === null ? null : r.ratio >= wanted,
        }
      }),
      tables: [
        {
          head: ['concurrency', 'DBOS workflows/s', 'DBOS p50 ms', 'DBOS p99 ms', 'DBOS Node CPU ms/workflow', 'sagactl sagas/s (1 worker)', 'sagactl / DBOS'],
          rows: rows.map((r) => [r.concurrency, fmt(r.dbosPerSec, 0), fmt(r.p50Ms, 1), fmt(r.p99Ms, 1), fmt(r.dbosNodeCpuMs, 2), fmt(r.sagactlPerSec, 0), r.ratio === null ? 'n/a' : `${fmt(r.ratio, 2)}x`]),
        },
      ],
      notes: [
        `DBOS: ${workflows.toLocaleString('en')} workflows of three no-op steps (\`DBOS.runStep\`), called directly by N concurrent callers in one process after 50 warm-up workflows, on a fresh database; every one checked SUCCESS in dbos.workflow_status. sagactl: the 1-worker figures of part a on the same server in the same session (${own ? own.date?.slice(0, 16).replace('T', ' ') : 'missing: run part a'}).`,
        'The shapes differ slightly: DBOS runs each workflow inline in its caller, sagactl claims pre-inserted sagas from the table; both are durable per step on the same server with fsync on.',
      ],
    }
  },
}
