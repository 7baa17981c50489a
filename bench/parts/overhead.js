// c. Step overhead at low load: one saga at a time (one worker at concurrency 1); the
// gap from one step's start to the next step's start, from the events' own timestamps.
import { insertPending, SCHEMA, THREE } from '../lib/engine-run.js'
import { freshSchema } from '../lib/sagactl.js'
import { BENCH, exited, log, median, percentile, round, spawnCli, waitUntil, withClient } from '../lib/util.js'
import { fmt } from './throughput.js'

const P50_TARGET_MS = 2

export default {
  name: 'overhead',
  title: 'c. Step overhead (one saga at a time)',
  async run(ctx) {
    const sagas = ctx.quick ? 200 : 1_000
    const perRun = []
    for (let r = 0; r < ctx.runs; r++) {
      const url = await ctx.cluster.freshDatabase('sagactl_bench_overhead')
      await freshSchema(url, SCHEMA, [THREE.text])
      await insertPending(url, sagas)
      const child = spawnCli(['worker', '--concurrency', '1', '--defs', `${BENCH}steps`, '--database-url', url, '--schema', SCHEMA])
      try {
        await withClient(url, SCHEMA, (c) =>
          waitUntil(async () => (await c.query(`SELECT count(*)::int AS n FROM sagas WHERE status = 'completed'`)).rows[0].n >= sagas, {
            timeoutMs: 300_000,
            everyMs: 200,
            what: 'all sagas completed',
          }),
        )
      } finally {
        child.kill('SIGTERM')
        await exited(child)
      }
      const gaps = await withClient(url, SCHEMA, async (c) => {
        const res = await c.query(
          `SELECT extract(epoch FROM at - lag(at) OVER (PARTITION BY saga_id ORDER BY id)) * 1000 AS gap_ms
           FROM events WHERE type = 'step.started' AND phase = 'action'`,
        )
        const whole = await c.query(
          `SELECT extract(epoch FROM s.finished_at - min(st.started_at)) * 1000 AS ms
           FROM sagas s JOIN steps st ON st.saga_id = s.id GROUP BY s.id, s.finished_at`,
        )
        // One saga at a time: the next saga's first step starts after the previous one finished (claim, then start).
        const between = await c.query(
          `SELECT extract(epoch FROM started - lag(finished) OVER (ORDER BY started)) * 1000 AS ms
           FROM (SELECT s.finished_at AS finished, min(e.at) AS started FROM sagas s JOIN events e ON e.saga_id = s.id AND e.type = 'step.started' GROUP BY s.id, s.finished_at) x`,
        )
        return {
          gaps: res.rows.map((r) => r.gap_ms).filter((v) => v !== null).map(Number),
          sagaMs: whole.rows.map((r) => Number(r.ms)),
          betweenMs: between.rows.map((r) => r.ms).filter((v) => v !== null).map(Number),
        }
      })
      const run = {
        gaps: gaps.gaps.length,
        p50: median(gaps.gaps),
        p90: percentile(gaps.gaps, 90),
        p99: percentile(gaps.gaps, 99),
        max: Math.max(...gaps.gaps),
        sagaP50: median(gaps.sagaMs),
        sagaP99: percentile(gaps.sagaMs, 99),
        betweenP50: median(gaps.betweenMs),
        betweenP99: percentile(gaps.betweenMs, 99),
        betweenMax: Math.max(...gaps.betweenMs),
      }
      log(`  step start to next step start: p50 ${run.p50.toFixed(3)} ms, p99 ${run.p99.toFixed(3)} ms over ${run.gaps} gaps; whole saga p50 ${run.sagaP50.toFixed(2)} ms; between sagas p50 ${run.betweenP50.toFixed(2)} ms, max ${run.betweenMax.toFixed(0)} ms`)
      perRun.push(run)
    }
    const m = (f) => median(perRun.map(f))
    const p50 = m((r) => r.p50)
    return {
      title: this.title,
      params: { sagas, worker: '1 process, --concurrency 1' },
      runs_detail: perRun.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v, 3)]))),
      targets: [{ metric: 'step start to next step start, p50', value: `${fmt(p50, 2)} ms`, target: `< ${P50_TARGET_MS} ms`, met: p50 < P50_TARGET_MS }],
      tables: [
        {
          head: ['', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
          rows: [
            ['step start to next step start', fmt(p50, 3), fmt(m((r) => r.p90), 3), fmt(m((r) => r.p99), 3), fmt(m((r) => r.max), 1)],
            ['whole saga (first step start to finished)', fmt(m((r) => r.sagaP50), 3), '', fmt(m((r) => r.sagaP99), 3), ''],
            ['one saga finished to the next one\'s first step (claim)', fmt(m((r) => r.betweenP50), 3), '', fmt(m((r) => r.betweenP99), 3), fmt(m((r) => r.betweenMax), 1)],
          ],
        },
      ],
      notes: [
        `${sagas} sagas of three no-op steps, pre-inserted; one worker process at --concurrency 1, so one saga runs at a time. Gaps come from the events table (\`at\` is the writing transaction's start time): step.started of step n+1 minus step.started of step n, ${perRun[0]?.gaps ?? 0} gaps per run. Each gap holds one committed transition (the round trip and its flush), the planner, and the no-op call.`,
      ],
    }
  },
}
