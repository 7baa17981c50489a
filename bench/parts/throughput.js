// a. Engine throughput: a 3-step no-op saga through 1, 2 and 4 worker processes (the same
// total concurrency split among them, and 32 each), against the commit limit of the same
// server measured in the same run.
import { readdirSync } from 'node:fs'
import { commitLimit } from '../lib/commit-limit.js'
import { summariseProfile } from '../lib/cpuprofile.js'
import { engineRun } from '../lib/engine-run.js'
import { RESULTS, log, median, round } from '../lib/util.js'

const CONFIGS = [
  { workers: 1, concurrency: 8 },
  { workers: 1, concurrency: 32 },
  { workers: 2, concurrency: 16 },
  { workers: 4, concurrency: 8 },
  { workers: 2, concurrency: 32 },
  { workers: 4, concurrency: 32 },
]
const RATIO_TARGET = 0.6
/** One worker process at c32: this many sagas/s, or this share of the commit limit counted in durable transitions. */
const ONE_WORKER_SAGAS_TARGET = 4_000
const ONE_WORKER_TRANSITIONS_TARGET = 0.4

export default {
  name: 'throughput',
  title: 'a. Engine throughput',
  async run(ctx) {
    const sagas = ctx.opts.sagas ?? (ctx.quick ? 4_000 : 20_000)
    const seconds = ctx.quick ? 5 : 10
    const limits = []
    const runs = new Map(CONFIGS.map((c) => [key(c), []]))
    for (let r = 0; r < ctx.runs; r++) {
      log(`throughput: round ${r + 1}/${ctx.runs}`)
      const limitUrl = await ctx.cluster.ensureDatabase('sagactl_commit_probe')
      const limit = await commitLimit({ cluster: ctx.cluster, url: limitUrl, clients: 32, seconds })
      log(`  commit limit: ${limit.commitsPerSec.toFixed(0)} commits/s (${limit.tool})`)
      limits.push(limit)
      for (const c of CONFIGS) runs.get(key(c)).push(await engineRun({ cluster: ctx.cluster, sagas, ...c }))
    }
    const limit = median(limits.map((l) => l.commitsPerSec))

    let profile = null
    if (ctx.opts.profile !== false) {
      log('throughput: profiled run (1 worker x c32, node --cpu-prof)')
      const dir = `${RESULTS}tmp/profiles/throughput-${Date.now()}`
      const run = await engineRun({ cluster: ctx.cluster, sagas, workers: 1, concurrency: 32, profileDir: dir })
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
      profile = { ...(file ? summariseProfile(`${dir}/${file}`) : {}), file: file ? `bench/results/tmp/profiles/${dir.split('/').pop()}/${file}` : null, topStatements: run.topStatements, run: pick(run) }
    }

    const rows = CONFIGS.map((c) => {
      const rs = runs.get(key(c))
      const m = (f) => median(rs.map(f).filter((v) => v !== null && v !== undefined))
      const sps = m((x) => x.sagasPerSec)
      const cps = m((x) => x.commitsPerSaga)
      return {
        ...c,
        sagasPerSec: sps,
        steadySagasPerSec: m((x) => x.steadySagasPerSec),
        commitsPerSaga: cps,
        writeStatementsPerSaga: m((x) => x.writeStatementsPerSaga),
        transitionsPerSaga: m((x) => x.transitionsPerSaga),
        walFlushesPerSaga: m((x) => x.walFlushesPerSaga),
        statementsPerSaga: m((x) => x.statementsPerSaga),
        nodeCpuMsPerSaga: m((x) => x.nodeCpuMsPerSaga),
        pgCpuMsPerSaga: m((x) => x.pgCpuMsPerSaga),
        serverExecMsPerSaga: m((x) => x.serverExecMsPerSaga),
        serverPlanMsPerSaga: m((x) => x.serverPlanMsPerSaga),
        ratio: (sps * cps) / limit,
        transitionRatio: (sps * m((x) => x.transitionsPerSaga)) / limit,
        runs: rs.map(pick),
      }
    })
    const best = rows.reduce((a, b) => (b.sagasPerSec > a.sagasPerSec ? b : a))
    const one = rows.find((r) => r.workers === 1 && r.concurrency === 32)
    const oneMet = one.sagasPerSec >= ONE_WORKER_SAGAS_TARGET || one.transitionRatio >= ONE_WORKER_TRANSITIONS_TARGET
    // N workers sharing 32 against one worker at c32.
    const split = rows.filter((r) => r.workers > 1 && r.workers * r.concurrency === 32)
    return {
      title: this.title,
      params: { sagas, runs: ctx.runs, commitLimitSeconds: seconds, lease: '30s', steps: 'bench/steps/noop.js (3 module steps)' },
      commitLimit: { commitsPerSec: limit, tool: limits[0]?.tool, runs: limits.map((l) => l.commitsPerSec) },
      configs: rows,
      profile,
      targets: [
        {
          metric: `sagas/s x commits per saga / commit limit (best: ${best.workers} worker${best.workers > 1 ? 's' : ''} x c${best.concurrency})`,
          value: round(best.ratio, 2),
          target: `>= ${RATIO_TARGET}`,
          met: best.ratio >= RATIO_TARGET,
        },
        {
          metric: `sagas/s x durable transitions per saga / commit limit (best config)`,
          value: round(best.transitionRatio, 2),
          target: `>= ${RATIO_TARGET}`,
          met: best.transitionRatio >= RATIO_TARGET,
        },
        {
          metric: `1 worker x c32: sagas/s; durable transitions x sagas/s / commit limit`,
          value: `${fmt(one.sagasPerSec, 0)}; ${fmt(one.transitionRatio, 2)}`,
          target: `>= ${ONE_WORKER_SAGAS_TARGET.toLocaleString('en')} or >= ${ONE_WORKER_TRANSITIONS_TARGET}`,
          met: oneMet,
        },
        ...split.map((r) => ({
          metric: `${r.workers} workers x c${r.concurrency} / 1 worker x c32, sagas/s`,
          value: `${fmt(r.sagasPerSec / one.sagasPerSec, 2)}x`,
          target: '>= 1x',
          met: r.sagasPerSec >= one.sagasPerSec,
        })),
      ],
      tables: [
        {
          head: ['workers', 'concurrency', 'sagas/s', 'steady sagas/s', 'commits/saga', 'writing statements/saga', 'WAL flushes/saga', 'statements/saga', 'CPU ms/saga node', 'CPU ms/saga pg', 'x commits / limit', 'x transitions / limit'],
          rows: rows.map((r) => [r.workers, r.concurrency, fmt(r.sagasPerSec, 0), fmt(r.steadySagasPerSec, 0), fmt(r.commitsPerSaga, 2), fmt(r.writeStatementsPerSaga, 2), fmt(r.walFlushesPerSaga, 2), fmt(r.statementsPerSaga, 2), fmt(r.nodeCpuMsPerSaga, 2), fmt(r.pgCpuMsPerSaga, 2), fmt(r.ratio, 2), fmt(r.transitionRatio, 2)]),
        },
      ],
      notes: [
        `${sagas.toLocaleString('en')} sagas pre-inserted as pending (one INSERT ... SELECT generate_series), fresh database per run; timed from spawning the worker processes (so including their start-up) to the last saga completed; "steady" is first step started to last saga finished, from the database's own timestamps.`,
        `Commit limit: ${fmt(limit, 0)} one-row INSERT commits/s (${limits[0]?.tool}), measured in the same run on the same server.`,
        'Commits per saga: xact_commit delta of the benchmark database / sagas, minus this script\'s own polls. It counts every transaction, including the read-only ones a LISTENing backend runs to read each NOTIFY it receives (one per notification per listening worker), so it grows with the number of workers. Writing statements: pg_stat_statements calls of WITH/INSERT/UPDATE statements (each its own transaction), the commits that flush. WAL flushes: pg_stat_wal.wal_sync delta (group commit in the server makes it lower still). Durable transitions: distinct (saga, event time) pairs, 4 for this saga (start, three step results), whatever the batching.',
        'The ratio as specified (sagas/s x commits per saga / commit limit) rewards an engine for committing more often: the writer batches many sagas\' transitions into one statement, so commits per saga fall below 1 as load rises. The second ratio counts durable transitions instead, i.e. the commit rate an engine making one commit per transition would need for the same work.',
        'CPU: /proc of the worker processes (start-up excluded) and of the postmaster with all its backends (exited ones through cutime), per saga.',
      ],
    }
  },
}

function key(c) {
  return `${c.workers}x${c.concurrency}`
}

function pick(r) {
  const { topStatements, ...rest } = r
  return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v]))
}

export function fmt(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a'
  return Number(v).toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}
