// h. Soak: the engine held at about 80 % of its peak for 10 minutes (--quick: 2) on a
// table that ends with at least 2 million sagas. Starts come from pgbench at a fixed rate
// (`start_saga`, the path other services use), one `sagactl worker` x c32 runs them.
// Reported per minute: sagas finished, claim latency (start to first step started), the
// backlog, and the dead tuples and index size of the hot tables.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { engineRun, SCHEMA, THREE } from '../lib/engine-run.js'
import { freshSchema } from '../lib/sagactl.js'
import { BENCH, exited, log, round, sleep, spawnCli, uuidV7Sql, waitUntil, withClient } from '../lib/util.js'
import { fmt } from './throughput.js'

const LOAD = 0.8
const END_ROWS = 2_000_000
const HOT = ['sagas', 'steps', 'events']
const THROUGHPUT_BAND = 0.15

function pgbenchBin(cluster) {
  for (const p of [`${cluster?.pgbin}/pgbench`, 'pgbench']) {
    if (spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0) return p
  }
  throw new Error('pgbench is not installed')
}

/** pgbench calling start_saga at `rate` per second for `seconds`. */
function startGenerator(cluster, url, rate, seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'sagactl-soak-'))
  writeFileSync(join(dir, 'start.sql'), `SELECT ${SCHEMA}.start_saga('bench-three');\n`)
  const u = new URL(url)
  const gen = spawn(
    pgbenchBin(cluster),
    ['-n', '-c', '8', '-j', '2', '-R', String(rate), '-T', String(seconds), '-M', 'prepared', '-f', join(dir, 'start.sql'), '-h', u.hostname, '-p', u.port || '5432', '-U', u.username || 'postgres', u.pathname.slice(1)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  gen.stdout.on('data', (d) => (out += d))
  gen.stderr.on('data', (d) => (out += d))
  return { gen, output: () => out }
}

/** One `sagactl worker` x c32 on `url`; resolves once it has registered. `stderr()` is the end of what it printed. */
async function startWorker(url) {
  const worker = spawnCli(['worker', '--concurrency', '32', '--defs', `${BENCH}steps`, '--database-url', url, '--schema', SCHEMA, '--lease', '30s'])
  let err = ''
  worker.stderr.on('data', (d) => (err = (err + d).slice(-4000)))
  try {
    await withClient(url, SCHEMA, (c) => waitUntil(async () => (await c.query('SELECT count(*)::int AS n FROM workers')).rows[0].n > 0, { what: 'worker registered' }))
  } catch (e) {
    worker.kill('SIGTERM')
    throw e
  }
  return { worker, stderr: () => err }
}

/**
 * The rate 1 worker x c32 keeps up with while its starts run beside it: sagas are started
 * at `rate` (its peak alone) for `seconds`, and over the last three quarters of that the
 * sagas started and finished per second are counted. Each start takes from the worker what
 * its share of CPU costs: alone - finished = started x (start cost / saga cost), so the
 * rate at which starts and finishes balance is alone / (1 + start cost / saga cost).
 */
async function peakWithStarts(cluster, rate, seconds) {
  const url = await cluster.freshDatabase('sagactl_soak_peak_starts')
  await freshSchema(url, SCHEMA, [THREE.text])
  const { worker } = await startWorker(url)
  try {
    return await withClient(url, SCHEMA, async (c) => {
      const { gen, output } = startGenerator(cluster, url, rate, seconds)
      const counts = async () => {
        const r = (await c.query(`SELECT count(*)::int AS started, count(*) FILTER (WHERE status = 'completed')::int AS done FROM sagas`)).rows[0]
        return { ...r, at: Date.now() }
      }
      await sleep((seconds * 1000) / 4)
      const a = await counts()
      await exited(gen)
      if (gen.exitCode !== 0) throw new Error(`pgbench failed: ${output().slice(-500)}`)
      const b = await counts()
      const perSec = (n) => (n * 1000) / (b.at - a.at)
      const started = perSec(b.started - a.started)
      const finished = perSec(b.done - a.done)
      const startCost = Math.max(0, rate - finished) / Math.max(1, started)
      return { started, finished, balanced: rate / (1 + startCost) }
    })
  } finally {
    worker.kill('SIGTERM')
    await exited(worker)
  }
}

/** Finished sagas of an earlier life of the system, so the soak runs on a big table from its first minute. */
async function insertHistory(url, n) {
  const chunk = 250_000
  await withClient(url, SCHEMA, async (c) => {
    for (let done = 0; done < n; done += chunk) {
      const k = Math.min(chunk, n - done)
      await c.query(
        `INSERT INTO sagas (id, definition, version, status, input, created_at, updated_at, finished_at)
         SELECT ${uuidV7Sql('m.ms', 'g')}, 'bench-three', 1, 'completed', '{}'::jsonb, m.t, m.t, m.t
         FROM generate_series($1::int, $2::int) g,
              LATERAL (SELECT (extract(epoch FROM now() - interval '2 days') * 1000)::bigint + g AS ms,
                              now() - interval '2 days' + g * interval '1 millisecond' AS t) m`,
        [done + 1, done + k],
      )
    }
    await c.query('VACUUM ANALYZE sagas')
    await c.query('CHECKPOINT')
  })
}

async function tableState(c) {
  const res = await c.query(
    `SELECT relname AS table, n_live_tup::bigint AS live, n_dead_tup::bigint AS dead, autovacuum_count::int AS autovacuums,
            pg_indexes_size(relid)::bigint AS index_bytes
     FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = ANY($2)`,
    [SCHEMA, HOT],
  )
  return Object.fromEntries(res.rows.map((r) => [r.table, { live: Number(r.live), dead: Number(r.dead), autovacuums: r.autovacuums, indexBytes: Number(r.index_bytes) }]))
}

export default {
  name: 'soak',
  title: 'h. Soak',
  async run(ctx) {
    const minutes = ctx.quick ? 2 : 10
    log(`soak: peak of 1 worker x c32 first, on pre-inserted sagas`)
    const alone = await engineRun({ cluster: ctx.cluster, dbName: 'sagactl_soak_peak', sagas: ctx.quick ? 6_000 : 15_000, workers: 1, concurrency: 32 })
    // The starts share the two cores with the worker: the peak that counts is the rate at
    // which starts and finishes balance (see peakWithStarts).
    log(`soak: peak with starts arriving at ${Math.round(alone.steadySagasPerSec)}/s`)
    const probe = await peakWithStarts(ctx.cluster, Math.round(alone.steadySagasPerSec), ctx.quick ? 20 : 40)
    const peak = probe.balanced
    log(`  started ${Math.round(probe.started)}/s, finished ${Math.round(probe.finished)}/s: they balance at ${Math.round(peak)}/s`)
    const rate = Math.max(1, Math.round(peak * LOAD))
    // Fewer than the rate allows are started when the generator lags: 10 % to spare.
    const history = Math.max(0, END_ROWS - Math.floor(0.9 * rate * minutes * 60))

    const url = await ctx.cluster.freshDatabase('sagactl_soak')
    await freshSchema(url, SCHEMA, [THREE.text])
    log(`soak: ${history.toLocaleString('en')} finished sagas of history, then ${rate}/s for ${minutes} min`)
    await insertHistory(url, history)

    const { worker, stderr: werr } = await startWorker(url)
    const samples = []
    let start
    try {
      start = await withClient(url, null, async (c) => (await c.query('SELECT now() AS t')).rows[0].t)
      const { gen, output } = startGenerator(ctx.cluster, url, rate, minutes * 60)
      const generated = exited(gen)
      await withClient(url, SCHEMA, async (c) => {
        for (let m = 1; m <= minutes; m++) {
          const due = new Date(start).getTime() + m * 60_000
          while (Date.now() < due) {
            if (worker.exitCode !== null) throw new Error(`worker exited (${worker.exitCode}): ${werr()}`)
            await sleep(Math.min(1000, due - Date.now()))
          }
          await c.query('SELECT pg_stat_clear_snapshot()')
          const backlog = (await c.query(`SELECT count(*)::int AS n FROM sagas WHERE status IN ('pending', 'running', 'compensating')`)).rows[0].n
          samples.push({ minute: m, backlog, tables: await tableState(c) })
          log(`  minute ${m}: backlog ${backlog}, dead tuples ${HOT.map((t) => `${t} ${samples.at(-1).tables[t]?.dead}`).join(', ')}`)
        }
      })
      await generated
      if (gen.exitCode !== 0) throw new Error(`pgbench failed: ${output().slice(-500)}`)
    } finally {
      worker.kill('SIGTERM')
      await exited(worker)
    }

    const per = await withClient(url, SCHEMA, async (c) => {
      const done = await c.query(
        `SELECT floor(extract(epoch FROM finished_at - $1::timestamptz) / 60)::int + 1 AS minute, count(*)::int AS n
         FROM sagas WHERE finished_at >= $1 GROUP BY 1 ORDER BY 1`,
        [start],
      )
      const claim = await c.query(
        `SELECT floor(extract(epoch FROM s.created_at - $1::timestamptz) / 60)::int + 1 AS minute,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM st.started_at - s.created_at) * 1000) AS p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM st.started_at - s.created_at) * 1000) AS p99
         FROM sagas s JOIN steps st ON st.saga_id = s.id AND st.step_index = 0 AND st.phase = 'action'
         WHERE s.created_at >= $1 GROUP BY 1 ORDER BY 1`,
        [start],
      )
      const total = (await c.query('SELECT count(*)::int AS n FROM sagas')).rows[0].n
      return { done: new Map(done.rows.map((r) => [r.minute, r.n])), claim: new Map(claim.rows.map((r) => [r.minute, { p50: Number(r.p50), p99: Number(r.p99) }])), total }
    })

    const rows = samples.map((s) => {
      const claim = per.claim.get(s.minute) ?? { p50: null, p99: null }
      return { minute: s.minute, perSec: (per.done.get(s.minute) ?? 0) / 60, claimP50: claim.p50, claimP99: claim.p99, backlog: s.backlog, tables: s.tables }
    })
    const first = rows[0]
    const worstDrift = Math.max(...rows.map((r) => Math.abs(r.perSec - first.perSec) / first.perSec))
    const deadShare = (r, t) => (r.tables[t] ? r.tables[t].dead / Math.max(1, r.tables[t].live) : 0)
    const worstDead = Math.max(...rows.flatMap((r) => HOT.map((t) => deadShare(r, t))))
    const indexPerRow = (r, t) => (r.tables[t] ? r.tables[t].indexBytes / Math.max(1, r.tables[t].live) : null)
    const last = rows.at(-1)
    return {
      title: this.title,
      params: { minutes, rate, load: LOAD, peakAloneSagasPerSec: round(alone.steadySagasPerSec, 0), peakWithStartsSagasPerSec: round(peak, 0), probe: { started: round(probe.started, 0), finished: round(probe.finished, 0) }, history, endRows: per.total, generator: `pgbench -c 8 -j 2 -R ${rate} -M prepared, SELECT start_saga('bench-three')` },
      minutes: rows,
      targets: [
        { metric: `sagas finished per second, worst minute against the first`, value: `${round(worstDrift * 100, 1)} %`, target: `<= ${THROUGHPUT_BAND * 100} %`, met: worstDrift <= THROUGHPUT_BAND },
        { metric: 'claim latency p99, last minute / first minute', value: `${fmt(last.claimP99, 1)} / ${fmt(first.claimP99, 1)} ms`, target: '<= 1.5x', met: last.claimP99 <= 1.5 * first.claimP99 },
        { metric: 'dead tuples of the hot tables, worst minute, share of live rows', value: `${round(worstDead * 100, 1)} %`, target: '<= 20 %', met: worstDead <= 0.2 },
        { metric: 'sagas in the table at the end', value: per.total.toLocaleString('en'), target: `>= ${END_ROWS.toLocaleString('en')}`, met: per.total >= END_ROWS },
      ],
      tables: [
        {
          head: ['minute', 'finished/s', 'claim p50 ms', 'claim p99 ms', 'backlog', ...HOT.map((t) => `${t} dead`), ...HOT.map((t) => `${t} index B/row`), 'autovacuums (sagas/steps/events)'],
          rows: rows.map((r) => [
            r.minute,
            fmt(r.perSec, 0),
            fmt(r.claimP50, 1),
            fmt(r.claimP99, 1),
            r.backlog,
            ...HOT.map((t) => (r.tables[t] ? r.tables[t].dead.toLocaleString('en') : 'n/a')),
            ...HOT.map((t) => fmt(indexPerRow(r, t), 0)),
            HOT.map((t) => r.tables[t]?.autovacuums ?? 0).join('/'),
          ]),
        },
      ],
      notes: [
        `Rate: ${LOAD * 100} % of the peak of 1 worker x c32 with its starts (${fmt(peak, 0)} sagas/s), measured first in the same run. The starts (start_saga from pgbench) share the machine's two cores with the worker, so its peak on pre-inserted sagas (${fmt(alone.steadySagasPerSec, 0)}/s) is not a rate it can keep up with while sagas are also being started: start_saga called at that rate for ${ctx.quick ? 20 : 40} s left the worker ${fmt(probe.finished, 0)} finished/s against ${fmt(probe.started, 0)} started/s, and the rate at which starts and finishes balance follows from that (alone / (1 + start cost / saga cost), the cost ratio being (alone - finished) / started).`,
        `Table: ${history.toLocaleString('en')} finished sagas inserted before the soak (sagas rows only), ${per.total.toLocaleString('en')} at the end.`,
        'Claim latency: from the saga row being created to its first step starting, per minute of creation. Dead tuples and index sizes: pg_stat_user_tables and pg_indexes_size at the end of each minute; "index B/row" is index bytes over live rows (a bloating index grows it).',
      ],
    }
  },
}
