import { displaySafe } from '../cli/terminal-text.js'
import { searchConditions } from '../db/queries/search.js'
import { parseSearchText } from '../engine/search.js'
import { EVENT_COLUMNS, INTERVENTION_COLUMNS, SAGA_COLUMNS, STEP_COLUMNS, toEvent, toIntervention, toSaga, toStep } from '../db/rows.js'
import type { Queryable } from '../db/types.js'
import { listParticipants, waitingStates, waitingText, type ParticipantSummary } from '../engine/participants/controls.js'
import type { Intervention, Saga, SagaEvent, SagaStatus, StepRecord } from '../engine/types.js'
import { failureGroups, qualified, stuck, type FailureGroup, type StuckSaga } from './data-problems.js'

export type { FailureGroup, StuckSaga } from './data-problems.js'

/** The statuses an operator watches: everything not finished. */
export const LIVE_STATUSES = ['pending', 'running', 'compensating', 'suspended'] as const satisfies readonly SagaStatus[]
export type LiveStatus = (typeof LIVE_STATUSES)[number]

export interface HeaderData {
  displayUrl: string
  /** The schema the console reads: several installations can share one database. */
  schema: string
  /** Workers not stopped whose heartbeat is at most 30 s old. */
  workers: number
  active: Record<LiveStatus, number>
  /** Terminal sagas finished in the last hour: counting every finished row of a big table would be a full scan. */
  lastHour: { completed: number; compensated: number; failed: number }
  finishedLastMinute: number
  openInterventions: number
  /** The database's clock, so ages do not depend on this machine's. */
  now: Date
  /** When the console reads from a replica: how far behind the primary it is. */
  replica?: { lagSeconds: number; paused: boolean }
}

export interface LiveQuery {
  /** One status, several, or undefined for all. */
  status?: SagaStatus | readonly SagaStatus[]
  definition?: string
  /**
   * Words match an id prefix, or a substring of the definition, step or last error;
   * `key:<start key>`, `tag:k=v` and `input.a.b=v` tokens search like saga list's --key, --tag and --where.
   */
  text?: string
  limit: number
}

export interface InterventionItem {
  intervention: Intervention
  definition: string | null
  sagaStatus: SagaStatus | null
  sagaRevision: number | null
  now: Date
}

export interface DefinitionStats {
  name: string
  latestVersion: number | null
  active: number
  /** Finished in the last 24 hours. */
  completed: number
  compensated: number
  failed: number
  /** completed / finished in the last 24 hours; null when none finished. */
  successRate: number | null
}

export interface SagaDetail {
  saga: Saga
  steps: StepRecord[]
  /** The last 15 events, oldest first. */
  events: SagaEvent[]
  intervention: Intervention | null
  now: Date
  /** "waiting for a paused participant: payments", while a gate holds the saga back. */
  waiting?: string | null
}

/** The console's reads: each one bounded, so a table of millions of sagas stays cheap to watch. */
export interface MonitorData {
  header(): Promise<HeaderData>
  liveSagas(q: LiveQuery): Promise<Saga[]>
  stuck(q: { stuckAfterMs: number; limit: number }): Promise<StuckSaga[]>
  interventions(q: { limit: number }): Promise<InterventionItem[]>
  definitions(): Promise<DefinitionStats[]>
  detail(sagaId: string): Promise<SagaDetail | null>
  failureGroups(q: { limit: number }): Promise<FailureGroup[]>
  sagasByIds(ids: readonly string[]): Promise<Saga[]>
  /** An operator action changed this saga (the row as the primary returned it). */
  acted?(saga: Saga): void
  participants(): Promise<ParticipantSummary[]>
}

type Row = Record<string, unknown>

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v))
const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)))
const json = (v: unknown): Row => (typeof v === 'string' ? (JSON.parse(v) as Row) : ((v as Row | null) ?? {}))

/** LIKE treats % and _ as wildcards; an operator typing them means the characters. */
export const likeEscape = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`)

/**
 * The console's data, every string in it terminal-safe: participants' errors, reasons,
 * descriptions and notes reach the screen only through here (the console has no JSON form
 * that would need them raw).
 */
export function createMonitorData(db: Queryable, opts: { displayUrl: string; schema: string; raw?: boolean }): MonitorData {
  const reads = rawMonitorData(db, opts)
  // `monitor --json` prints the stored text exactly; the JSON writer escapes it.
  if (opts.raw) return reads
  const safe = {} as Record<string, unknown>
  for (const [name, read] of Object.entries(reads)) safe[name] = async (...args: unknown[]) => displaySafe(await (read as (...a: unknown[]) => Promise<unknown>)(...args))
  return safe as unknown as MonitorData
}

function rawMonitorData(db: Queryable, opts: { displayUrl: string; schema: string }): MonitorData {
  return {
    async header() {
      const res = await db.query(`
        SELECT
          (SELECT count(*) FROM {{schema}}.workers WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '30 seconds')::int AS workers,
          (SELECT count(*) FROM {{schema}}.interventions WHERE status = 'open')::int AS interventions,
          (SELECT count(*) FROM {{schema}}.sagas WHERE finished_at > now() - interval '1 minute')::int AS last_minute,
          (SELECT coalesce(json_object_agg(status, n), '{}') FROM (
             SELECT status, count(*)::int AS n FROM {{schema}}.sagas
             WHERE status IN ('pending', 'running', 'compensating', 'suspended') GROUP BY status) a) AS active,
          (SELECT coalesce(json_object_agg(status, n), '{}') FROM (
             SELECT status, count(*)::int AS n FROM {{schema}}.sagas
             WHERE finished_at > now() - interval '1 hour' GROUP BY status) t) AS last_hour,
          now() AS now`)
      const r = res.rows[0]!
      const active = json(r.active)
      const lastHour = json(r.last_hour)
      return {
        displayUrl: opts.displayUrl,
        schema: opts.schema,
        workers: num(r.workers),
        active: { pending: num(active.pending), running: num(active.running), compensating: num(active.compensating), suspended: num(active.suspended) },
        lastHour: { completed: num(lastHour.completed), compensated: num(lastHour.compensated), failed: num(lastHour.failed) },
        finishedLastMinute: num(r.last_minute),
        openInterventions: num(r.interventions),
        now: toDate(r.now),
      }
    },

    async liveSagas(q) {
      const params: unknown[] = []
      const p = (v: unknown): string => {
        params.push(v)
        return `$${params.length}`
      }
      const limit = p(q.limit)
      const conds: string[] = []
      if (q.definition) conds.push(`definition = ${p(q.definition)}`)
      const parsed = parseSearchText(q.text ?? '')
      conds.push(...searchConditions(parsed.search, p))
      const text = parsed.text
      if (text) {
        const prefix = p(`${likeEscape(text.toLowerCase())}%`)
        const infix = p(`%${likeEscape(text)}%`)
        conds.push(`(id::text LIKE ${prefix} OR definition ILIKE ${infix} OR step_name ILIKE ${infix} OR last_error ILIKE ${infix})`)
      }
      const statuses = q.status === undefined ? null : typeof q.status === 'string' ? [q.status] : [...q.status]
      if (statuses === null) {
        const where = conds.length > 0 ? `WHERE ${conds.join(' AND ')}` : ''
        const res = await db.query(`SELECT ${SAGA_COLUMNS} FROM {{schema}}.sagas ${where} ORDER BY id DESC LIMIT ${limit}`, params)
        return res.rows.map(toSaga)
      }
      if (statuses.length === 0) return []
      // One index range per status (sagas_status_id, newest first), merged: each part reads at most `limit` rows.
      const parts = statuses.map((s) => {
        const where = [`status = ${p(s)}`, ...conds].join(' AND ')
        return `(SELECT ${SAGA_COLUMNS} FROM {{schema}}.sagas WHERE ${where} ORDER BY id DESC LIMIT ${limit})`
      })
      const res = await db.query(`SELECT ${SAGA_COLUMNS} FROM (${parts.join(' UNION ALL ')}) s ORDER BY id DESC LIMIT ${limit}`, params)
      return res.rows.map(toSaga)
    },

    stuck: (q) => stuck(db, q),

    async interventions(q) {
      const res = await db.query(
        `SELECT ${qualified(INTERVENTION_COLUMNS, 'i')}, s.definition, s.status AS saga_status, s.revision AS saga_revision, now() AS db_now
         FROM {{schema}}.interventions i LEFT JOIN {{schema}}.sagas s ON s.id = i.saga_id
         WHERE i.status = 'open'
         ORDER BY i.created_at, i.id
         LIMIT $1`,
        [q.limit],
      )
      return res.rows.map((r) => ({
        intervention: toIntervention(r),
        definition: (r.definition as string | null) ?? null,
        sagaStatus: (r.saga_status as SagaStatus | null) ?? null,
        sagaRevision: r.saga_revision === null || r.saga_revision === undefined ? null : Number(r.saga_revision),
        now: toDate(r.db_now),
      }))
    },

    async definitions() {
      const res = await db.query(`
        WITH latest AS (SELECT name, max(version) AS version FROM {{schema}}.definitions GROUP BY name),
        active AS (
          SELECT definition AS name, count(*)::int AS active FROM {{schema}}.sagas
          WHERE status IN ('pending', 'running', 'compensating', 'suspended') GROUP BY definition),
        recent AS (
          SELECT definition AS name,
            count(*) FILTER (WHERE status = 'completed')::int AS completed,
            count(*) FILTER (WHERE status = 'compensated')::int AS compensated,
            count(*) FILTER (WHERE status = 'failed')::int AS failed
          FROM {{schema}}.sagas WHERE finished_at > now() - interval '24 hours' GROUP BY definition),
        names AS (SELECT name FROM latest UNION SELECT name FROM active UNION SELECT name FROM recent)
        SELECT n.name, l.version, a.active, r.completed, r.compensated, r.failed
        FROM names n
        LEFT JOIN latest l ON l.name = n.name
        LEFT JOIN active a ON a.name = n.name
        LEFT JOIN recent r ON r.name = n.name
        ORDER BY n.name`)
      return res.rows.map((r) => {
        const completed = num(r.completed)
        const finished = completed + num(r.compensated) + num(r.failed)
        return {
          name: r.name as string,
          latestVersion: r.version === null || r.version === undefined ? null : Number(r.version),
          active: num(r.active),
          completed,
          compensated: num(r.compensated),
          failed: num(r.failed),
          successRate: finished === 0 ? null : completed / finished,
        }
      })
    },

    async detail(sagaId) {
      const sagaRes = await db.query(`SELECT ${SAGA_COLUMNS}, now() AS db_now FROM {{schema}}.sagas WHERE id = $1`, [sagaId])
      const row = sagaRes.rows[0]
      if (!row) return null
      const [steps, events, interventions] = await Promise.all([
        // Actions in step order, then compensations in the order they ran.
        db.query(
          `SELECT ${STEP_COLUMNS} FROM {{schema}}.steps WHERE saga_id = $1
           ORDER BY phase = 'compensation', CASE WHEN phase = 'action' THEN step_index END, started_at NULLS LAST, step_index DESC`,
          [sagaId],
        ),
        db.query(`SELECT ${EVENT_COLUMNS} FROM {{schema}}.events WHERE saga_id = $1 ORDER BY id DESC LIMIT 15`, [sagaId]),
        db.query(`SELECT ${INTERVENTION_COLUMNS} FROM {{schema}}.interventions WHERE saga_id = $1 AND status = 'open'`, [sagaId]),
      ])
      const saga = toSaga(row)
      const waiting = saga.waitingFor ? waitingText(saga.waitingFor, (await waitingStates(db, [saga])).get(saga.waitingFor)) : null
      return {
        saga,
        waiting,
        steps: steps.rows.map(toStep),
        events: events.rows.map(toEvent).reverse(),
        intervention: interventions.rows[0] ? toIntervention(interventions.rows[0]) : null,
        now: toDate(row.db_now),
      }
    },

    failureGroups: (q) => failureGroups(db, q),

    async sagasByIds(ids) {
      if (ids.length === 0) return []
      const res = await db.query(`SELECT ${SAGA_COLUMNS} FROM {{schema}}.sagas WHERE id = ANY($1::uuid[])`, [[...ids]])
      return res.rows.map(toSaga)
    },
    participants: () => listParticipants(db),
  }
}
