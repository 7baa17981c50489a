import { workChannelFor, type Database, type Queryable } from './types.js'

/**
 * Participant queries: the gate's acquire/done (SQL functions of migration 0004, one
 * row lock each), the cached view workers refresh, call statistics, and the operator's
 * pause and resume. Only participants with controls ever reach acquire/done.
 */

export type GateState = 'ok' | 'paused' | 'open' | 'half-open' | 'limited'

export interface Admission {
  admitted: boolean
  state: GateState
  /** When a held-back call may be tried again. */
  until: Date | null
  probe: boolean
}

export interface AcquireArgs {
  name: string
  holder: string
  holdMs: number
  maxInFlight: number | null
  rps: number | null
  circuit: { failures: number; within: number; cooldown: number } | null
}

export async function acquire(q: Queryable, a: AcquireArgs): Promise<Admission> {
  const res = await q.query<{ admitted: boolean; state: GateState; until: Date | string | null; probe: boolean }>(
    `SELECT admitted, state, until, probe FROM {{schema}}.participant_acquire($1, $2, $3, $4, $5, $6)`,
    [a.name, a.holder, a.holdMs, a.maxInFlight, a.rps, a.circuit ? JSON.stringify(a.circuit) : null],
    { name: 'sagactl_participant_acquire' },
  )
  const r = res.rows[0]!
  return { admitted: r.admitted, state: r.state, until: r.until === null ? null : new Date(r.until), probe: r.probe }
}

export interface DoneArgs {
  name: string
  holder: string
  kind: 'success' | 'business' | 'pending' | 'transient' | 'lost'
  probe: boolean
  circuit: AcquireArgs['circuit']
  error: string | null
}

/** Returns the circuit change it caused, if any (`circuit.opened`, `circuit.closed`). */
export async function done(db: Database, d: DoneArgs): Promise<string | null> {
  const res = await db.query<{ change: string | null }>(
    `SELECT {{schema}}.participant_done($1, $2, $3, $4, $5, $6, $7) AS change`,
    [d.name, d.holder, d.kind, d.probe, d.circuit ? JSON.stringify(d.circuit) : null, d.error, workChannelFor(db.schema)],
    { name: 'sagactl_participant_done' },
  )
  return res.rows[0]?.change ?? null
}

/** What every gate caches for a short while: enough to hold back calls to a paused or open participant without a query. */
export interface CachedParticipant {
  name: string
  paused: boolean
  operatorRps: number | null
  circuitState: 'closed' | 'open' | 'half-open'
  /** Sagas held back for it right now. */
  waiting: number
}

export async function readGateView(q: Queryable): Promise<CachedParticipant[]> {
  const res = await q.query<CachedParticipant>(
    `SELECT p.name, p.paused, p.operator_rps AS "operatorRps", p.circuit_state AS "circuitState", coalesce(w.n, 0)::int AS waiting
     FROM {{schema}}.participants p
     LEFT JOIN (SELECT waiting_for, count(*) AS n FROM {{schema}}.sagas WHERE waiting_for IS NOT NULL AND status IN ('pending', 'running', 'compensating') GROUP BY waiting_for) w
       ON w.waiting_for = p.name`,
  )
  return res.rows
}

export async function isPaused(q: Queryable, name: string): Promise<boolean> {
  const res = await q.query<{ paused: boolean }>(`SELECT paused FROM {{schema}}.participants WHERE name = $1`, [name])
  return res.rows[0]?.paused ?? false
}

/** Makes the rows exist, so `participant list` shows a participant from its first call. */
export async function ensureParticipants(q: Queryable, names: string[]): Promise<void> {
  if (names.length === 0) return
  await q.query(`INSERT INTO {{schema}}.participants (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING`, [names])
}

/** Upper bounds (ms) of the latency histogram buckets; the last one is open-ended. */
export const PARTICIPANT_LATENCY_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, Infinity]
export const STATS_BUCKET_MS = 10_000

export interface StatsDelta {
  participant: string
  bucket: Date
  calls: number
  errors: number
  latency: number[]
  inFlight: number
}

export async function flushStats(q: Queryable, worker: string, rows: StatsDelta[]): Promise<void> {
  if (rows.length === 0) return
  await q.query(
    `INSERT INTO {{schema}}.participant_stats AS s (participant, worker, bucket, calls, errors, latency, in_flight, updated_at)
     SELECT x.participant, $2, x.bucket, x.calls, x.errors, x.latency, x.in_flight, now()
     FROM jsonb_to_recordset($1::jsonb) AS x(participant text, bucket timestamptz, calls int, errors int, latency int[], in_flight int)
     ON CONFLICT (participant, bucket, worker) DO UPDATE SET
       calls = s.calls + EXCLUDED.calls,
       errors = s.errors + EXCLUDED.errors,
       latency = ARRAY(SELECT a + b FROM unnest(s.latency, EXCLUDED.latency) AS u(a, b)),
       in_flight = EXCLUDED.in_flight,
       updated_at = now()`,
    [JSON.stringify(rows.map((r) => ({ participant: r.participant, bucket: r.bucket.toISOString(), calls: r.calls, errors: r.errors, latency: r.latency, in_flight: r.inFlight }))), worker],
  )
}

/** Old buckets are only read for the last minute; keep ten. */
export async function pruneStats(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM {{schema}}.participant_stats WHERE bucket < now() - interval '10 minutes'`)
}

// ---- operator controls and reads ----

export interface ParticipantRow {
  name: string
  paused: boolean
  pausedReason: string | null
  pausedBy: string | null
  pausedAt: Date | null
  operatorRps: number | null
  maxInFlight: number | null
  rps: number | null
  circuitState: 'closed' | 'open' | 'half-open'
  circuit: { failures: number; within: number; cooldown: number } | null
  openedAt: Date | null
  slotsInUse: number
  updatedAt: Date
}

const PARTICIPANT_SELECT = `SELECT name, paused, paused_reason AS "pausedReason", paused_by AS "pausedBy", paused_at AS "pausedAt",
  operator_rps AS "operatorRps", max_in_flight AS "maxInFlight", rps, circuit_state AS "circuitState", circuit, opened_at AS "openedAt",
  (SELECT count(*)::int FROM jsonb_each(slots) WHERE value::text::float8 > extract(epoch FROM now()) * 1000) AS "slotsInUse", updated_at AS "updatedAt"
  FROM {{schema}}.participants`

const toRow = (r: ParticipantRow): ParticipantRow => ({
  ...r,
  pausedAt: r.pausedAt === null ? null : new Date(r.pausedAt),
  openedAt: r.openedAt === null ? null : new Date(r.openedAt),
  updatedAt: new Date(r.updatedAt),
  operatorRps: r.operatorRps === null ? null : Number(r.operatorRps),
  rps: r.rps === null ? null : Number(r.rps),
})

export async function listParticipantRows(q: Queryable, names?: string[]): Promise<ParticipantRow[]> {
  const res = names
    ? await q.query<ParticipantRow>(`${PARTICIPANT_SELECT} WHERE name = ANY($1::text[]) ORDER BY name`, [names])
    : await q.query<ParticipantRow>(`${PARTICIPANT_SELECT} ORDER BY name`)
  return res.rows.map(toRow)
}

export async function getParticipantRow(q: Queryable, name: string, lock = false): Promise<ParticipantRow | null> {
  const res = await q.query<ParticipantRow>(`${PARTICIPANT_SELECT} WHERE name = $1${lock ? ' FOR UPDATE' : ''}`, [name])
  return res.rows[0] ? toRow(res.rows[0]) : null
}

export interface ParticipantLoad {
  participant: string
  calls: number
  errors: number
  latency: number[]
  inFlight: number
}

/** The last minute of calls (whole 10-second buckets) and the calls in flight by the latest reports. */
export async function participantLoad(q: Queryable): Promise<ParticipantLoad[]> {
  const res = await q.query<{ participant: string; calls: number; errors: number; latency: number[] | null; in_flight: number }>(
    `SELECT participant,
       coalesce(sum(calls) FILTER (WHERE bucket >= now() - interval '60 seconds'), 0)::int AS calls,
       coalesce(sum(errors) FILTER (WHERE bucket >= now() - interval '60 seconds'), 0)::int AS errors,
       (SELECT ARRAY(SELECT sum(v)::int FROM {{schema}}.participant_stats s2, unnest(s2.latency) WITH ORDINALITY AS u(v, i)
          WHERE s2.participant = s.participant AND s2.bucket >= now() - interval '60 seconds' GROUP BY i ORDER BY i)) AS latency,
       (SELECT coalesce(sum(in_flight), 0)::int FROM (
          SELECT DISTINCT ON (worker) in_flight FROM {{schema}}.participant_stats s3
          WHERE s3.participant = s.participant AND s3.updated_at > now() - interval '6 seconds' ORDER BY worker, bucket DESC) latest) AS in_flight
     FROM {{schema}}.participant_stats s WHERE bucket >= now() - interval '70 seconds' GROUP BY participant`,
  )
  return res.rows.map((r) => ({ participant: r.participant, calls: r.calls, errors: r.errors, latency: r.latency ?? [], inFlight: r.in_flight }))
}

export async function waitingCounts(q: Queryable): Promise<Map<string, number>> {
  const res = await q.query<{ waiting_for: string; n: number }>(
    `SELECT waiting_for, count(*)::int AS n FROM {{schema}}.sagas WHERE waiting_for IS NOT NULL AND status IN ('pending', 'running', 'compensating') GROUP BY waiting_for`,
  )
  return new Map(res.rows.map((r) => [r.waiting_for, r.n]))
}

export interface ParticipantEvent {
  id: number
  participant: string
  at: Date
  type: string
  actor: string
  reason: string | null
  data: Record<string, unknown> | null
}

export async function participantEvents(q: Queryable, name: string, limit = 50): Promise<ParticipantEvent[]> {
  const res = await q.query<ParticipantEvent>(
    `SELECT id, participant, at, type, actor, reason, data FROM {{schema}}.participant_events WHERE participant = $1 ORDER BY id DESC LIMIT $2`,
    [name, limit],
  )
  return res.rows.map((r) => ({ ...r, id: Number(r.id), at: new Date(r.at) })).reverse()
}

export async function recordParticipantEvent(q: Queryable, e: { participant: string; type: string; actor: string; reason: string | null; data?: Record<string, unknown> }): Promise<void> {
  await q.query(`INSERT INTO {{schema}}.participant_events (participant, type, actor, reason, data) VALUES ($1, $2, $3, $4, $5)`, [
    e.participant,
    e.type,
    e.actor,
    e.reason,
    e.data ? JSON.stringify(e.data) : null,
  ])
}

export async function setPaused(q: Queryable, name: string, by: string, reason: string): Promise<void> {
  await q.query(
    `INSERT INTO {{schema}}.participants (name, paused, paused_reason, paused_by, paused_at) VALUES ($1, true, $3, $2, now())
     ON CONFLICT (name) DO UPDATE SET paused = true, paused_reason = $3, paused_by = $2, paused_at = now(), updated_at = now()`,
    [name, by, reason],
  )
}

/**
 * Lifts a pause (and sets or clears the operator's rate), then wakes the sagas waiting
 * for the participant: all at once, or spread at the new rate so they do not all come
 * back only to be held again.
 */
export async function setResumed(db: Database, q: Queryable, name: string, rps: number | null): Promise<number> {
  await q.query(
    `UPDATE {{schema}}.participants SET paused = false, paused_reason = NULL, paused_by = NULL, paused_at = NULL, operator_rps = $2, updated_at = now()
     WHERE name = $1`,
    [name, rps],
  )
  const res = await q.query<{ n: number }>(
    `WITH c AS (
       SELECT id, due_at FROM {{schema}}.sagas
       WHERE waiting_for = $1 AND lease_owner IS NULL AND status IN ('pending', 'running', 'compensating')
       FOR UPDATE SKIP LOCKED
     ), w AS (
       SELECT id, row_number() OVER (ORDER BY due_at, id) - 1 AS k FROM c
     ), u AS (
       UPDATE {{schema}}.sagas s SET due_at = now() + CASE WHEN $2::float8 IS NULL THEN interval '0' ELSE make_interval(secs => w.k / $2::float8) END
       FROM w WHERE s.id = w.id RETURNING s.id
     )
     SELECT count(*)::int AS n, (SELECT pg_notify($3, '')) AS woke FROM u`,
    [name, rps, workChannelFor(db.schema)],
  )
  return res.rows[0]?.n ?? 0
}
