// e. One `compensate --batch` pass over 10,000 due compensations: sagas left as the
// engine leaves them when the third step fails with a business error and compensation
// is handed to the scheduler (status compensating, plan [second, first], due now).
import { SCHEMA, THREE } from '../lib/engine-run.js'
import { freshSchema } from '../lib/sagactl.js'
import { BENCH, hasCommand, log, median, runCli, uuidV7Sql, withClient } from '../lib/util.js'
import { fmt } from './throughput.js'

const TARGET_S = 30
const FALLBACK_LIMIT = 1000

async function insertDueCompensations(url, n) {
  await withClient(url, SCHEMA, async (c) => {
    await c.query(
      `INSERT INTO sagas (id, definition, version, status, step_index, step_name, input, revision, due_at, comp_plan, reason, created_at, updated_at)
       SELECT ${uuidV7Sql('m.ms', 'g')}, 'bench-three', 1, 'compensating', 1, 'second', '{}'::jsonb, 4, now(), '{1,0}',
              'third failed: HTTP 409: out of stock', now(), now()
       FROM generate_series(1, $1::int) g,
            LATERAL (SELECT (extract(epoch FROM now()) * 1000)::bigint - $1::int + g AS ms) m`,
      [n],
    )
    await c.query(
      `INSERT INTO steps (saga_id, step_index, phase, name, status, attempts, output, last_error, error_kind, started_at, finished_at)
       SELECT s.id, x.i, 'action', x.name, x.status, 1, x.output, x.err, x.kind, now(), now()
       FROM sagas s CROSS JOIN (VALUES (0, 'first', 'succeeded', 'null'::jsonb, NULL, NULL), (1, 'second', 'succeeded', 'null'::jsonb, NULL, NULL),
                                      (2, 'third', 'failed', NULL, 'HTTP 409: out of stock', 'business')) AS x(i, name, status, output, err, kind)`,
    )
    await c.query(
      `INSERT INTO events (saga_id, type, data) SELECT id, 'saga.compensating', '{"reason": "third failed: HTTP 409: out of stock", "plan": ["second", "first"]}' FROM sagas`,
    )
    await c.query('VACUUM ANALYZE')
    await c.query('CHECKPOINT')
  })
}

export default {
  name: 'compensate',
  title: 'e. Scheduler pass: compensate --batch over 10,000 due compensations',
  async run(ctx) {
    const n = ctx.quick ? 2_000 : 10_000
    if (!hasCommand('compensate')) {
      return { status: 'pending', title: this.title, wanted: `< ${TARGET_S} s`, reason: '`sagactl compensate --batch` is not in the build yet; rerun with --only compensate once it is.' }
    }
    const runs = []
    for (let r = 0; r < ctx.runs; r++) {
      const url = await ctx.cluster.freshDatabase('sagactl_bench_comp')
      await freshSchema(url, SCHEMA, [THREE.text])
      await insertDueCompensations(url, n)
      const base = ['compensate', '--batch', '--max-runtime', '5m', '--defs', `${BENCH}steps`, '--json', '--database-url', url, '--schema', SCHEMA]
      let passes = 0
      let totalMs = 0
      let limit = n
      let summary = null
      let capped = null
      for (;;) {
        const res = await runCli([...base, '--limit', String(limit)], { timeoutMs: 600_000 })
        if (res.code === 2 && passes === 0 && limit !== FALLBACK_LIMIT) {
          capped = res.stderr.trim().split('\n')[0]
          log(`  --limit ${limit} refused (${capped}); running passes of ${FALLBACK_LIMIT}`)
          limit = FALLBACK_LIMIT
          continue
        }
        if (res.code !== 0 && res.code !== 6) throw new Error(`compensate --batch exited ${res.code}: ${res.stderr.trim()}`)
        passes++
        totalMs += res.ms
        summary = JSON.parse(res.stdout)
        const left = await withClient(url, SCHEMA, async (c) => (await c.query(`SELECT count(*)::int AS n FROM sagas WHERE status <> 'compensated'`)).rows[0].n)
        if (left === 0) break
        if (passes >= Math.ceil(n / FALLBACK_LIMIT) + 2) throw new Error(`${left} sagas still not compensated after ${passes} passes`)
      }
      const calls = await withClient(url, SCHEMA, async (c) => (await c.query(`SELECT count(*)::int AS n FROM steps WHERE phase = 'compensation' AND status = 'succeeded'`)).rows[0].n)
      if (calls !== n * 2) throw new Error(`expected ${n * 2} succeeded compensation steps, found ${calls}`)
      log(`  ${n} compensations in ${(totalMs / 1000).toFixed(1)} s over ${passes} pass(es)`)
      runs.push({ ms: totalMs, passes, capped, lastSummary: summary })
    }
    const ms = median(runs.map((r) => r.ms))
    const capped = runs.find((r) => r.capped)?.capped ?? null
    const perSec = (n * 1000) / ms
    return {
      title: this.title,
      params: { sagas: n, command: `sagactl compensate --batch --limit ${n} --max-runtime 5m --defs bench/steps --json`, concurrency: 'default (8)' },
      runs_detail: runs,
      targets: [
        {
          metric: `${n.toLocaleString('en')} due compensations${capped ? ` (in ${runs[0].passes} passes: --limit ${n} refused)` : ', one pass'}`,
          value: `${fmt(ms / 1000, 1)} s`,
          target: `< ${TARGET_S} s${ctx.quick ? ` (for 10,000; scaled: < ${fmt((TARGET_S * n) / 10_000, 0)} s)` : ''}`,
          met: ms / 1000 < (TARGET_S * n) / 10_000,
        },
      ],
      tables: [{ head: ['sagas', 'passes', 'wall s', 'sagas/s', 'compensation calls'], rows: [[n, runs[0].passes, fmt(ms / 1000, 1), fmt(perSec, 0), n * 2]] }],
      notes: [
        `Each saga: steps first and second succeeded, third failed with a business error, so two no-op compensations (second, then first), as startCompensation leaves it for the scheduler (status compensating, comp_plan {1,0}, due now, no lease). Wall time of the whole command process, including start-up.`,
        ...(capped ? [`\`--limit ${n}\` was refused (${capped}), so the figure is the sum of consecutive passes of --limit ${FALLBACK_LIMIT}.`] : []),
      ],
    }
  },
}
