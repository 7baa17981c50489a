// One timed engine run: sagas pre-inserted as pending, `sagactl worker` processes started,
// the clock stopped when the last saga completes. Also collects what explains the
// figure: commits, WAL flushes and statements per saga, CPU of Node and of Postgres.
import { mkdirSync } from 'node:fs'
import { BENCH, clusterCpuMs, cpuMs, exited, log, sleep, spawnCli, uuidV7Sql, withClient, waitUntil } from './util.js'
import { freshSchema, readDef } from './sagactl.js'

export const SCHEMA = 'sagactl'
export const THREE = readDef(`${BENCH}defs/three.yaml`)
const POLL_MARK = '/* bench-poll */'

/** Inserts `n` pending sagas of bench-three in one statement, then tidies the table for a fair start. */
export async function insertPending(url, n) {
  await withClient(url, SCHEMA, async (c) => {
    await c.query(
      `INSERT INTO sagas (id, definition, version, status, input, due_at, created_at, updated_at)
       SELECT ${uuidV7Sql('m.ms', 'g')}, 'bench-three', 1, 'pending', '{}'::jsonb, now(), now(), now()
       FROM generate_series(1, $1::int) g,
            LATERAL (SELECT (extract(epoch FROM now()) * 1000)::bigint - $1::int + g AS ms) m`,
      [n],
    )
    await c.query('VACUUM ANALYZE sagas')
    await c.query('CHECKPOINT')
  })
}

async function dbCounters(url, dbName) {
  return withClient(url, null, async (c) => {
    await c.query('SELECT pg_stat_clear_snapshot()')
    const x = await c.query(`SELECT xact_commit::bigint AS commits FROM pg_stat_database WHERE datname = $1`, [dbName])
    const w = await c.query(`SELECT wal_sync::bigint AS syncs, wal_records::bigint AS records, wal_bytes::bigint AS bytes FROM pg_stat_wal`)
    return { commits: Number(x.rows[0].commits), walSyncs: Number(w.rows[0].syncs), walRecords: Number(w.rows[0].records), walBytes: Number(w.rows[0].bytes) }
  })
}

async function topStatements(url, dbName, n) {
  return withClient(url, null, async (c) => {
    const res = await c.query(
      `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls::bigint AS calls, total_exec_time AS total_ms, mean_exec_time AS mean_ms, rows::bigint AS rows,
              total_plan_time AS plan_ms, plans::bigint AS plans
       FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) AND query NOT LIKE '%bench-poll%' AND query NOT LIKE '%pg_stat%'
       ORDER BY total_exec_time DESC`,
      [dbName],
    )
    const rows = res.rows.map((r) => ({
      query: r.query.slice(0, 160),
      calls: Number(r.calls),
      totalMs: Number(r.total_ms),
      meanMs: Number(r.mean_ms),
      planMs: Number(r.plan_ms ?? 0),
      plans: Number(r.plans ?? 0),
      perSaga: Number(r.calls) / n,
    }))
    // Each statement is its own transaction; those that write are the commits that flush.
    const writes = rows.filter((r) => /^\s*(WITH|INSERT|UPDATE|DELETE)/i.test(r.query))
    return {
      statementsPerSaga: rows.reduce((a, r) => a + r.calls, 0) / n,
      writeStatementsPerSaga: writes.reduce((a, r) => a + r.calls, 0) / n,
      serverExecMsPerSaga: rows.reduce((a, r) => a + r.totalMs, 0) / n,
      serverPlanMsPerSaga: rows.reduce((a, r) => a + r.planMs, 0) / n,
      top: rows.slice(0, 8),
    }
  })
}

/**
 * Runs `sagas` sagas through `workers` worker processes at `concurrency`, on a fresh
 * database of `cluster` (or a fresh schema on `url` when there is no cluster).
 */
export async function engineRun({ cluster, dbName = 'sagactl_bench', sagas, workers, concurrency, profileDir = null, extraArgs = [] }) {
  const url = await cluster.freshDatabase(dbName)
  await freshSchema(url, SCHEMA, [THREE.text])
  await insertPending(url, sagas)
  await withClient(url, null, (c) => c.query('SELECT pg_stat_statements_reset()')).catch(() => {})
  await sleep(1100) // let the setup's statistics reach pg_stat_database before the baseline
  const before = await dbCounters(url, dbName)
  const pgCpu0 = clusterCpuMs(cluster.postmasterPid())

  if (profileDir) mkdirSync(profileDir, { recursive: true })
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
  const t0 = performance.now()
  const children = []
  for (let i = 0; i < workers; i++) {
    const child = spawnCli(
      ['worker', '--concurrency', String(concurrency), '--defs', `${BENCH}steps`, '--database-url', url, '--schema', SCHEMA, '--lease', '30s', ...extraArgs],
      { nodeArgs },
    )
    let err = ''
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)))
    child.log = () => err
    children.push(child)
  }
  let polls = 0
  let pgCpuStart = null
  let nodeCpuStart = null
  try {
    await withClient(url, SCHEMA, async (c) => {
      // The CPU of process start-up (loading oclif and the engine) is not per-saga work.
      await waitUntil(async () => {
        polls++
        const r = await c.query(`${POLL_MARK} SELECT count(*)::int AS n FROM workers`)
        return r.rows[0].n >= workers
      }, { timeoutMs: 60_000, everyMs: 20, what: 'workers registered' })
      pgCpuStart = clusterCpuMs(cluster.postmasterPid())
      nodeCpuStart = children.map((ch) => cpuMs(ch.pid) ?? 0)
      await waitUntil(async () => {
        polls++
        const r = await c.query(`${POLL_MARK} SELECT count(*)::int AS n FROM sagas WHERE status = 'completed'`)
        for (const ch of children) if (ch.exitCode !== null) throw new Error(`worker exited early (${ch.exitCode}): ${ch.log()}`)
        return r.rows[0].n >= sagas
      }, { timeoutMs: Math.max(120_000, sagas * 20), everyMs: 50, what: `all ${sagas} sagas completed` })
    })
  } catch (err) {
    for (const ch of children) ch.kill('SIGKILL')
    throw err
  }
  const t1 = performance.now()
  const pgCpu1 = clusterCpuMs(cluster.postmasterPid())
  const nodeCpu1 = children.map((ch) => cpuMs(ch.pid) ?? 0)
  for (const ch of children) ch.kill('SIGTERM')
  await Promise.all(children.map(exited))
  await sleep(300) // exiting backends flush their statistics
  const after = await dbCounters(url, dbName)
  const statements = await topStatements(url, dbName, sagas).catch(() => null)

  const span = await withClient(url, SCHEMA, async (c) => {
    const r = await c.query(`SELECT extract(epoch FROM (SELECT max(finished_at) FROM sagas) - (SELECT min(started_at) FROM steps)) * 1000 AS ms`)
    const bad = await c.query(`SELECT count(*)::int AS n FROM sagas WHERE status <> 'completed'`)
    // The events of one transition share its statement's now(): distinct (saga, at) pairs are transitions.
    const t = await c.query(`SELECT count(*)::int AS n FROM (SELECT DISTINCT saga_id, at FROM events) e`)
    return { steadyMs: Number(r.rows[0].ms), notCompleted: bad.rows[0].n, transitions: t.rows[0].n }
  })
  if (span.notCompleted > 0) throw new Error(`${span.notCompleted} sagas did not complete`)
  const wallMs = t1 - t0
  const ownCommits = polls + 2 // this script's polls and the two counter reads
  const commits = after.commits - before.commits - ownCommits
  const nodeCpu = nodeCpu1.reduce((a, v, i) => a + (v - nodeCpuStart[i]), 0)
  const pgCpu = pgCpu1 !== null && pgCpuStart !== null ? pgCpu1 - pgCpuStart : null
  const result = {
    sagas,
    workers,
    concurrency,
    wallMs,
    sagasPerSec: (sagas * 1000) / wallMs,
    steadySagasPerSec: (sagas * 1000) / span.steadyMs,
    commitsPerSaga: commits / sagas,
    transitionsPerSaga: span.transitions / sagas,
    writeStatementsPerSaga: statements?.writeStatementsPerSaga ?? null,
    walFlushesPerSaga: (after.walSyncs - before.walSyncs) / sagas,
    walBytesPerSaga: (after.walBytes - before.walBytes) / sagas,
    nodeCpuMsPerSaga: nodeCpu / sagas,
    pgCpuMsPerSaga: pgCpu === null ? null : pgCpu / sagas,
    statementsPerSaga: statements?.statementsPerSaga ?? null,
    serverExecMsPerSaga: statements?.serverExecMsPerSaga ?? null,
    serverPlanMsPerSaga: statements?.serverPlanMsPerSaga ?? null,
    topStatements: statements?.top ?? [],
  }
  log(`  ${workers}w x c${concurrency}: ${result.sagasPerSec.toFixed(0)} sagas/s (steady ${result.steadySagasPerSec.toFixed(0)}), ${result.commitsPerSaga.toFixed(2)} commits/saga (${result.writeStatementsPerSaga?.toFixed(2)} writing), ${result.transitionsPerSaga.toFixed(2)} transitions/saga, ${result.statementsPerSaga?.toFixed(2)} statements/saga, CPU/saga node ${result.nodeCpuMsPerSaga.toFixed(2)} ms pg ${result.pgCpuMsPerSaga?.toFixed(2)} ms`)
  return result
}
