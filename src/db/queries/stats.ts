import type { SagaStatus } from '../../engine/types.js'
import type { Queryable } from '../types.js'

/**
 * History aggregates: `sagactl stats` and the incremental journal reads behind the
 * Prometheus counters. Everything is aggregated in SQL; only the results come back.
 */

export interface StatsOptions {
  /** The window: sagas created in the last `sinceMs` milliseconds. */
  sinceMs: number
  definition?: string
  topFailures?: number
  stepFailures?: number
}

export interface Stats {
  since: Date
  definition: string | null
  counts: Record<SagaStatus, number>
  total: number
  /** completed / finished (completed + compensated + failed); null when nothing finished. */
  successRate: number | null
  compensationRate: number | null
  durationMs: { p50: number | null; p95: number | null; p99: number | null }
  topFailures: Array<{ reason: string; count: number }>
  stepFailures: Array<{ definition: string; step: string; phase: 'action' | 'compensation'; failures: number; retries: number }>
}

// Saga ids are UUIDv7, so the smallest id of a millisecond is its 48-bit timestamp
// followed by zeros: bounding `id` lets the window use the primary key (and the
// (definition, id) index) instead of scanning every saga ever run. A minute of slack
// covers clock skew between the hosts that mint ids and the database's now();
// created_at then cuts the window exactly.
const WINDOW = `s.id >= (lpad(to_hex((extract(epoch FROM now() - make_interval(secs => $1::float8 / 1000) - interval '1 minute') * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid
  AND s.created_at >= now() - make_interval(secs => $1::float8 / 1000)`

function windowFilter(opts: StatsOptions): { where: string; params: unknown[] } {
  if (opts.definition === undefined) return { where: WINDOW, params: [opts.sinceMs] }
  return { where: `${WINDOW} AND s.definition = $2`, params: [opts.sinceMs, opts.definition] }
}

/**
 * Reasons are grouped after stripping what differs between occurrences of one cause:
 * ids become <id>, numbers become N (`after 3 attempts`, `127.0.0.1:7002`), except an
 * HTTP status, which is the cause itself (500 and 409 mean different things).
 */
export const NORMALISED_REASON = `left(regexp_replace(
    regexp_replace(COALESCE(NULLIF(s.reason, ''), s.last_error), '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'gi'),
    '(?<!HTTP )(?<![0-9A-Za-z_.])[0-9]+(?:\\.[0-9]+)*', 'N', 'g'), 200)`

const FAILED_STATUSES = `('compensating', 'suspended', 'compensated', 'failed')`

interface SummaryRow {
  since: Date | string
  pending: number
  running: number
  compensating: number
  suspended: number
  completed: number
  compensated: number
  failed: number
  p50: number | null
  p95: number | null
  p99: number | null
}

export async function sagaStats(q: Queryable, opts: StatsOptions): Promise<Stats> {
  const { where, params } = windowFilter(opts)
  const duration = `(extract(epoch FROM s.finished_at - s.created_at) * 1000)::float8`
  const finished = `FILTER (WHERE s.finished_at IS NOT NULL AND s.status IN ('completed', 'compensated', 'failed'))`
  const count = (st: SagaStatus) => `count(*) FILTER (WHERE s.status = '${st}')::int AS ${st}`
  const summary = q.query<SummaryRow>(
    `SELECT now() - make_interval(secs => $1::float8 / 1000) AS since,
       ${count('pending')}, ${count('running')}, ${count('compensating')}, ${count('suspended')},
       ${count('completed')}, ${count('compensated')}, ${count('failed')},
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ${duration}) ${finished} AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY ${duration}) ${finished} AS p95,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY ${duration}) ${finished} AS p99
     FROM {{schema}}.sagas s WHERE ${where}`,
    params,
  )
  const failures = q.query<{ reason: string; count: number }>(
    `SELECT reason, count(*)::int AS count FROM (
       SELECT ${NORMALISED_REASON} AS reason FROM {{schema}}.sagas s
       WHERE ${where} AND s.status IN ${FAILED_STATUSES} AND COALESCE(NULLIF(s.reason, ''), s.last_error) IS NOT NULL
     ) r GROUP BY reason ORDER BY count DESC, reason LIMIT ${Math.trunc(opts.topFailures ?? 10)}`,
    params,
  )
  const steps = q.query<{ definition: string; step: string; phase: 'action' | 'compensation'; failures: number; retries: number }>(
    `SELECT s.definition, st.name AS step, st.phase,
       count(*) FILTER (WHERE st.status = 'failed')::int AS failures,
       sum(greatest(st.attempts - 1, 0))::int AS retries
     FROM {{schema}}.sagas s JOIN {{schema}}.steps st ON st.saga_id = s.id
     WHERE ${where} AND (st.status = 'failed' OR st.attempts > 1)
     GROUP BY s.definition, st.name, st.phase
     ORDER BY failures DESC, retries DESC, s.definition, min(st.step_index), st.phase
     LIMIT ${Math.trunc(opts.stepFailures ?? 50)}`,
    params,
  )
  const [s, f, st] = await Promise.all([summary, failures, steps])
  const row = s.rows[0]!
  const counts: Record<SagaStatus, number> = {
    pending: row.pending,
    running: row.running,
    compensating: row.compensating,
    suspended: row.suspended,
    completed: row.completed,
    compensated: row.compensated,
    failed: row.failed,
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0)
  const finishedCount = counts.completed + counts.compensated + counts.failed
  const num = (v: number | null) => (v === null ? null : Number(v))
  return {
    since: row.since instanceof Date ? row.since : new Date(row.since),
    definition: opts.definition ?? null,
    counts,
    total,
    successRate: finishedCount === 0 ? null : counts.completed / finishedCount,
    compensationRate: finishedCount === 0 ? null : counts.compensated / finishedCount,
    durationMs: { p50: num(row.p50), p95: num(row.p95), p99: num(row.p99) },
    topFailures: f.rows,
    stepFailures: st.rows,
  }
}

/** One journal entry as the metrics need it, already reduced to what it counts for. */
export interface JournalEntry {
  id: number
  type: string
  definition: string
  step: string | null
  phase: 'action' | 'compensation' | null
  /** A failed call that will be tried again (not a 425 "still in progress" poll). */
  retry: boolean
  /** saga.suspended / saga.failed of a saga that was compensating. */
  fromCompensation: boolean
  /** For step.succeeded / step.failed: how long the call took. */
  seconds: number | null
  /** Newer than the settle time: its neighbours may not be committed yet, so stop here. */
  fresh: boolean
}

/**
 * Events after `afterId`, oldest first, bounded: the BRIN index on id (ids follow the
 * table's physical order) keeps this to the journal's tail however large it is. Rows come
 * back with `fresh` set rather than filtered out, so the caller can stop at the first one
 * and never skip an id that an in-flight transaction has taken but not committed yet.
 */
export async function journalSince(q: Queryable, afterId: number, opts: { limit: number; settleMs: number }): Promise<JournalEntry[]> {
  const res = await q.query<JournalEntry>(
    `SELECT e.id, e.type, COALESCE(s.definition, '') AS definition, e.step, e.phase,
       (e.type = 'step.failed' AND e.data ? 'retryAt' AND COALESCE(e.data->>'kind', '') <> 'pending') AS retry,
       (e.type IN ('saga.suspended', 'saga.failed') AND (e.phase = 'compensation' OR s.comp_plan IS NOT NULL)) AS "fromCompensation",
       CASE WHEN e.type IN ('step.succeeded', 'step.failed') THEN COALESCE(
         CASE WHEN jsonb_typeof(e.data->'durationMs') = 'number' THEN (e.data->>'durationMs')::float8 / 1000 END,
         (SELECT extract(epoch FROM e.at - max(b.at))::float8 FROM {{schema}}.events b
           WHERE b.saga_id = e.saga_id AND b.id < e.id AND b.type = 'step.started' AND b.step = e.step AND b.phase = e.phase),
         (SELECT extract(epoch FROM st.finished_at - st.started_at)::float8 FROM {{schema}}.steps st
           WHERE st.saga_id = e.saga_id AND st.phase = e.phase AND st.name = e.step AND st.finished_at IS NOT NULL LIMIT 1))
       END AS seconds,
       e.at >= now() - make_interval(secs => $3::float8 / 1000) AS fresh
     FROM {{schema}}.events e LEFT JOIN {{schema}}.sagas s ON s.id = e.saga_id
     WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
    [afterId, opts.limit, opts.settleMs],
  )
  return res.rows.map((r) => ({ ...r, id: Number(r.id) }))
}

/**
 * Summarises the journal's BRIN index up to its end. On a server autovacuum does this
 * (`autosummarize`); the embedded database has no autovacuum, and a range never
 * summarised is read by every tail query. Best effort: a standby or a role that does not
 * own the index leaves it to the primary's autovacuum.
 */
export async function summariseJournal(q: Queryable): Promise<void> {
  await q.query(`SELECT brin_summarize_new_values('{{schema}}.events_id_brin'::regclass) WHERE NOT pg_is_in_recovery()`).catch(() => {})
}

/** Where the journal ends now: the metrics count what happens after they start. */
export async function lastEventId(q: Queryable): Promise<number> {
  // max(id) alone would read the whole journal (a BRIN index cannot answer it); the
  // sequence says where the tail is. Ids taken by writes that rolled back leave gaps, so
  // the whole journal is read only when the last thousand ids were all rolled back.
  const res = await q.query<{ id: number | null }>(
    `SELECT COALESCE(
       (SELECT max(id) FROM {{schema}}.events WHERE id > (SELECT last_value FROM {{schema}}.events_id_seq) - 1000),
       (SELECT max(id) FROM {{schema}}.events)) AS id`,
  )
  return Number(res.rows[0]?.id ?? 0)
}
