import { formatDuration } from '../../engine/duration.js'
import type { SagaStatus } from '../../engine/types.js'
import type { Queryable } from '../types.js'
import { liveWorkerCount, replicaLag, type ReplicaLag } from './replica.js'

/**
 * Current-state reads: `sagactl health` and the Prometheus gauges. Every query reads
 * active or open rows through an index (active sagas are few; finished ones are only
 * read through the finished_at index, bounded to a recent window).
 */

export interface HealthThresholds {
  stuckAfterMs: number
  longRunningAfterMs: number
  /** 0..1: compensated / compensations that ended in the last hour. */
  minCompensationSuccess: number
  maxOpenInterventions: number
  maxCompensationDurationMs: number
  /** A worker is live when not stopped and its heartbeat is younger than this. */
  workerLivenessMs: number
  /** With a replica: alert when it lags the primary by more than this. */
  maxReplicaLagMs?: number
}

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  stuckAfterMs: 10 * 60_000,
  longRunningAfterMs: 5 * 60_000,
  minCompensationSuccess: 0.9,
  maxOpenInterventions: 10,
  maxCompensationDurationMs: 5 * 60_000,
  workerLivenessMs: 30_000,
  maxReplicaLagMs: 30_000,
}

/** The alert rules look back this far for finished compensations. */
export const RULE_WINDOW = '1 hour'

export interface HealthSnapshot {
  /** Sagas a worker moves on: pending, running, compensating. */
  active: number
  /** Sagas waiting for a person, not counted as active. */
  suspended: number
  longRunning: number
  stuck: number
  openInterventions: number
  liveWorkers: number
  /** Compensations that ended in the last hour, and how many of them rolled back cleanly. */
  compensationsEnded: number
  compensationsSucceeded: number
  /** Compensations running, or finished in the last hour, slower than the threshold. */
  slowCompensations: number
  longestCompensationMs: number | null
  longestCompensationSaga: string | null
  /** Participants whose circuit breaker is open or half-open. */
  openCircuits?: string[]
}

const ms = (param: string) => `make_interval(secs => ${param}::float8 / 1000)`

export async function healthSnapshot(q: Queryable, t: HealthThresholds): Promise<HealthSnapshot> {
  const res = await q.query<HealthSnapshot>(
    `WITH a AS (
       SELECT count(*) FILTER (WHERE status <> 'suspended')::int AS active,
         count(*) FILTER (WHERE status = 'suspended')::int AS suspended,
         count(*) FILTER (WHERE status <> 'suspended' AND created_at < now() - ${ms('$1')})::int AS long_running,
         -- counted as "saga list --stuck" counts: a pending saga late on due_at, an active one not updated
         count(*) FILTER (WHERE status <> 'suspended' AND CASE WHEN status = 'pending' THEN due_at < now() - ${ms('$2')} ELSE updated_at < now() - ${ms('$2')} END)::int AS stuck
       FROM {{schema}}.sagas WHERE status IN ('pending', 'running', 'compensating', 'suspended')
     ), c AS (
       SELECT count(*)::int AS ended, count(*) FILTER (WHERE status = 'compensated')::int AS succeeded
       FROM {{schema}}.sagas
       WHERE comp_plan IS NOT NULL AND (
         (status IN ('compensated', 'failed') AND finished_at > now() - interval '${RULE_WINDOW}')
         OR (status = 'suspended' AND updated_at > now() - interval '${RULE_WINDOW}'))
     ), d AS (
       -- two branches, so the finished ones are found through finished_at alone: "IS TRUE"
       -- keeps the planner from also walking every compensated saga in sagas_status_id
       SELECT s.id, now() - (SELECT max(e.at) FROM {{schema}}.events e WHERE e.saga_id = s.id AND e.type = 'saga.compensating') AS took
       FROM {{schema}}.sagas s WHERE s.status = 'compensating'
       UNION ALL
       SELECT s.id, s.finished_at - (SELECT max(e.at) FROM {{schema}}.events e WHERE e.saga_id = s.id AND e.type = 'saga.compensating')
       FROM {{schema}}.sagas s WHERE s.finished_at > now() - interval '${RULE_WINDOW}' AND (s.status = 'compensated') IS TRUE
     ), slow AS (
       SELECT count(*) FILTER (WHERE took > ${ms('$3')})::int AS slow,
         (extract(epoch FROM max(took)) * 1000)::float8 AS longest_ms,
         (array_agg(id::text ORDER BY took DESC))[1] AS longest_saga
       FROM d WHERE took IS NOT NULL
     )
     SELECT a.active, a.suspended, a.long_running AS "longRunning", a.stuck,
       (SELECT count(*)::int FROM {{schema}}.interventions WHERE status = 'open') AS "openInterventions",
       (SELECT count(*)::int FROM {{schema}}.workers WHERE stopped_at IS NULL AND heartbeat_at > now() - ${ms('$4')}) AS "liveWorkers",
       c.ended AS "compensationsEnded", c.succeeded AS "compensationsSucceeded",
       slow.slow AS "slowCompensations", slow.longest_ms AS "longestCompensationMs", slow.longest_saga AS "longestCompensationSaga"
     FROM a, c, slow`,
    [t.longRunningAfterMs, t.stuckAfterMs, t.maxCompensationDurationMs, t.workerLivenessMs],
  )
  const row = res.rows[0]!
  const circuits = await q.query<{ name: string }>(`SELECT name FROM {{schema}}.participants WHERE circuit_state <> 'closed' ORDER BY name`)
  row.openCircuits = circuits.rows.map((r) => r.name)
  return { ...row, longestCompensationMs: row.longestCompensationMs === null ? null : Number(row.longestCompensationMs) }
}

export interface HealthRule {
  name: 'compensation-success' | 'open-interventions' | 'compensation-duration' | 'live-workers' | 'open-circuits' | 'replica-lag'
  ok: boolean
  value: number | null
  threshold: number
  message: string
}

export interface HealthReport {
  healthy: boolean
  /** Pending, running and compensating sagas. */
  active: number
  /** Suspended sagas (each waits for a person); not in `active`. */
  suspended: number
  longRunning: number
  stuck: number
  openInterventions: number
  liveWorkers: number
  /** Present when the reads went to a replica (`--read-database-url`). */
  replica?: ReplicaLag
  rules: HealthRule[]
}

const pct = (v: number) => `${Number((v * 100).toFixed(1))}%`

/** The alert rules of SPEC.md section 5, as a pure function of one snapshot. */
export function healthRules(s: HealthSnapshot, t: HealthThresholds): HealthRule[] {
  const rules: HealthRule[] = []

  const rate = s.compensationsEnded === 0 ? null : s.compensationsSucceeded / s.compensationsEnded
  rules.push({
    name: 'compensation-success',
    ok: rate === null || rate >= t.minCompensationSuccess,
    value: rate,
    threshold: t.minCompensationSuccess,
    message:
      rate === null
        ? 'no compensation ended in the last hour'
        : rate < t.minCompensationSuccess
          ? `compensation success ${pct(rate)} < ${pct(t.minCompensationSuccess)} in the last hour (${s.compensationsSucceeded} of ${s.compensationsEnded})`
          : `compensation success ${pct(rate)} in the last hour (${s.compensationsSucceeded} of ${s.compensationsEnded})`,
  })

  const tooMany = s.openInterventions > t.maxOpenInterventions
  rules.push({
    name: 'open-interventions',
    ok: !tooMany,
    value: s.openInterventions,
    threshold: t.maxOpenInterventions,
    message: tooMany
      ? `open interventions ${s.openInterventions} > ${t.maxOpenInterventions}`
      : `open interventions ${s.openInterventions} (max ${t.maxOpenInterventions})`,
  })

  const limit = formatDuration(t.maxCompensationDurationMs)
  rules.push({
    name: 'compensation-duration',
    ok: s.slowCompensations === 0,
    value: s.longestCompensationMs,
    threshold: t.maxCompensationDurationMs,
    message:
      s.slowCompensations > 0
        ? `${s.slowCompensations} compensation(s) slower than ${limit}, longest ${formatDuration(s.longestCompensationMs ?? 0)} (saga ${s.longestCompensationSaga})`
        : s.longestCompensationMs === null
          ? 'no compensation running or ended in the last hour'
          : `longest compensation ${formatDuration(s.longestCompensationMs)} (max ${limit})`,
  })

  const orphaned = s.liveWorkers === 0 && s.active > 0
  rules.push({
    name: 'live-workers',
    ok: !orphaned,
    value: s.liveWorkers,
    threshold: 1,
    message: orphaned ? `no live worker while ${s.active === 1 ? '1 saga is' : `${s.active} sagas are`} active` : `${s.liveWorkers} live worker(s), ${s.active} active saga(s)`,
  })

  const open = s.openCircuits ?? []
  rules.push({
    name: 'open-circuits',
    ok: open.length === 0,
    value: open.length,
    threshold: 0,
    message: open.length > 0 ? `circuit open for ${open.join(', ')}` : 'no open circuit',
  })
  return rules
}

function replicaRule(lag: ReplicaLag, maxMs: number): HealthRule {
  const limit = formatDuration(maxMs)
  const behind = lag.seconds * 1000 > maxMs
  const paused = lag.paused ? ', replay paused' : ''
  return {
    name: 'replica-lag',
    ok: !behind,
    value: lag.seconds,
    threshold: maxMs / 1000,
    message: !lag.standby
      ? 'the read database is not a standby'
      : behind
        ? `replica lags the primary by ${formatDuration(lag.seconds * 1000)} (${lag.bytesBehind} bytes of WAL${paused}), max ${limit}: what it shows is that old`
        : `replica lag ${formatDuration(lag.seconds * 1000)} (max ${limit}${paused})`,
  }
}

/**
 * With `primary` set, `q` is a replica: the counts come from it, live workers from the
 * primary (their heartbeats would look stale through a lagging copy), and a rule checks
 * the lag itself.
 */
export async function checkHealth(q: Queryable, t: HealthThresholds, primary?: Queryable): Promise<HealthReport> {
  const s = await healthSnapshot(q, t)
  let replica: ReplicaLag | undefined
  if (primary) {
    ;[s.liveWorkers, replica] = await Promise.all([liveWorkerCount(primary, t.workerLivenessMs), replicaLag(q, primary)])
  }
  const rules = healthRules(s, t)
  if (replica) rules.push(replicaRule(replica, t.maxReplicaLagMs ?? DEFAULT_THRESHOLDS.maxReplicaLagMs!))
  return {
    ...(replica ? { replica } : {}),
    healthy: rules.every((r) => r.ok),
    active: s.active,
    suspended: s.suspended,
    longRunning: s.longRunning,
    stuck: s.stuck,
    openInterventions: s.openInterventions,
    liveWorkers: s.liveWorkers,
    rules,
  }
}

// ---- the Prometheus gauges ----

export interface SagaCount {
  status: SagaStatus
  definition: string
  count: number
}

/**
 * Active and suspended sagas are counted fully; finished ones only when they finished
 * in the last `finishedWithinMs`, because that table only grows.
 */
export async function sagaCounts(q: Queryable, finishedWithinMs: number): Promise<{ counts: SagaCount[]; definitions: string[] }> {
  const counts = await q.query<SagaCount>(
    `SELECT status, definition, count(*)::int AS count FROM {{schema}}.sagas
       WHERE status IN ('pending', 'running', 'compensating', 'suspended') GROUP BY status, definition
     UNION ALL
     SELECT status, definition, count(*)::int FROM {{schema}}.sagas
       WHERE finished_at > now() - ${ms('$1')} AND status IN ('completed', 'compensated', 'failed') GROUP BY status, definition`,
    [finishedWithinMs],
  )
  const defs = await q.query<{ name: string }>(`SELECT DISTINCT name FROM {{schema}}.definitions`)
  const definitions = [...new Set([...defs.rows.map((r) => r.name), ...counts.rows.map((r) => r.definition)])].sort()
  return { counts: counts.rows, definitions }
}

export interface WorkerHeartbeat {
  id: string
  host: string
  ageSeconds: number
  live: boolean
}

/** Workers not stopped, heard from in the last day (a crashed worker stays visible, with its age growing, for that long). */
export async function workerHeartbeats(q: Queryable, livenessMs: number): Promise<WorkerHeartbeat[]> {
  const res = await q.query<WorkerHeartbeat>(
    `SELECT id, host, extract(epoch FROM now() - heartbeat_at)::float8 AS "ageSeconds", heartbeat_at > now() - ${ms('$1')} AS live
     FROM {{schema}}.workers WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '1 day'
     ORDER BY heartbeat_at DESC LIMIT 1000`,
    [livenessMs],
  )
  return res.rows.map((r) => ({ ...r, ageSeconds: Number(r.ageSeconds) }))
}

export async function openInterventionCount(q: Queryable): Promise<number> {
  const res = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM {{schema}}.interventions WHERE status = 'open'`)
  return res.rows[0]?.n ?? 0
}
