import { SAGA_COLUMNS, toSaga } from '../db/rows.js'
import type { Queryable } from '../db/types.js'
import type { Saga, SagaStatus } from '../engine/types.js'
import { age, oneLine, truncate } from './format.js'

export interface StuckSaga {
  saga: Saga
  /** One line an operator can act on: what it waits for, since when. */
  why: string
  /** Time since its last transition. */
  idleMs: number
  attempts: number | null
  now: Date
}

export interface GroupSaga {
  id: string
  revision: number
  status?: SagaStatus
  /** Suspended or failing in compensation: compensate is refused. */
  inCompensation?: boolean
}

export interface FailureGroup {
  /** definition, step and normalised error: stable across refreshes, used to keep the selection. */
  key: string
  definition: string
  step: string | null
  /** The error with digits and ids replaced, so `HTTP 503 for order 42` and `… order 43` group together. */
  error: string
  /** One real error of the group, as a reminder of what the pattern stands for. */
  sample: string
  count: number
  statuses: SagaStatus[]
  /** Newest first, at most 1000, with the revision the group action checks and the state that decides what it allows. */
  sagas: GroupSaga[]
}

/** `a, b` -> `s.a, s.b`: the shared column lists, for queries that join. */
export const qualified = (columns: string, alias: string): string =>
  columns
    .split(',')
    .map((c) => `${alias}.${c.trim()}`)
    .join(', ')

export interface StuckFacts {
  status: SagaStatus
  createdAt: Date
  updatedAt: Date
  leaseOwner: string | null
  dueAt: Date | null
  step: string | null
  attempts: number | null
  error: string | null
}

/** Why a saga has made no progress, in the words an operator on call needs. */
export function stuckReason(f: StuckFacts, now: Date): string {
  const since = (d: Date): string => age(now.getTime() - d.getTime())
  if (f.status === 'pending') return `pending for ${since(f.createdAt)}: no worker picked it up`
  if (f.leaseOwner && f.dueAt && f.dueAt.getTime() <= now.getTime()) {
    return `lease of worker ${f.leaseOwner} expired ${since(f.dueAt)} ago`
  }
  let why = `no progress for ${since(f.updatedAt)}`
  if (f.step) why += ` in ${f.step}${f.status === 'compensating' ? ' compensation' : ''}`
  const error = truncate(oneLine(f.error), 60)
  if (f.attempts) why += error ? ` (attempt ${f.attempts}: ${error})` : ` (attempt ${f.attempts})`
  else if (error) why += ` (${error})`
  if (f.leaseOwner) why += `; held by worker ${f.leaseOwner}`
  else if (f.dueAt && f.dueAt.getTime() > now.getTime()) why += `; next attempt in ${age(f.dueAt.getTime() - now.getTime())}`
  else if (!f.dueAt) why += '; not scheduled'
  return why
}

/** Active sagas whose last transition is older than the threshold, longest idle first. */
export async function stuck(db: Queryable, q: { stuckAfterMs: number; limit: number }): Promise<StuckSaga[]> {
  const res = await db.query(
    `SELECT ${qualified(SAGA_COLUMNS, 's')}, st.attempts AS step_attempts, st.last_error AS step_error, now() AS db_now
     FROM {{schema}}.sagas s
     LEFT JOIN {{schema}}.steps st ON st.saga_id = s.id AND st.step_index = s.step_index
       AND st.phase = CASE WHEN s.status = 'compensating' THEN 'compensation' ELSE 'action' END
     WHERE s.status IN ('pending', 'running', 'compensating')
       AND s.updated_at < now() - $1::double precision * interval '1 millisecond'
     ORDER BY s.updated_at, s.id
     LIMIT $2`,
    [q.stuckAfterMs, q.limit],
  )
  return res.rows.map((r) => {
    const saga = toSaga(r)
    const now = r.db_now instanceof Date ? r.db_now : new Date(String(r.db_now))
    const attempts = r.step_attempts === null || r.step_attempts === undefined ? null : Number(r.step_attempts)
    const why = stuckReason(
      {
        status: saga.status,
        createdAt: saga.createdAt,
        updatedAt: saga.updatedAt,
        leaseOwner: saga.leaseOwner,
        dueAt: saga.dueAt,
        step: saga.currentStep,
        attempts,
        error: (r.step_error as string | null) ?? saga.lastError,
      },
      now,
    )
    return { saga, why, idleMs: now.getTime() - saga.updatedAt.getTime(), attempts, now }
  })
}

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'

/** The same normalisation as the SQL below, for callers that group errors themselves. */
export function normaliseError(text: string): string {
  return text.replace(new RegExp(UUID, 'g'), '<id>').replace(/(?<!HTTP )(?<![0-9])[0-9]+/g, '#')
}

/**
 * Failing (running or compensating with an error) and suspended sagas, grouped by
 * definition, step and normalised error, largest group first: one action can then
 * repair a whole outage's worth of sagas.
 */
export async function failureGroups(db: Queryable, q: { limit: number }): Promise<FailureGroup[]> {
  const res = await db.query(
    `SELECT definition, step_name AS step, err AS error, min(raw) AS sample, count(*)::int AS count,
       array_agg(DISTINCT status) AS statuses,
       (array_agg(id::text ORDER BY id DESC))[1:1000] AS ids,
       (array_agg(revision ORDER BY id DESC))[1:1000] AS revisions,
       (array_agg(status ORDER BY id DESC))[1:1000] AS saga_statuses,
       (array_agg((comp_plan IS NOT NULL)::int ORDER BY id DESC))[1:1000] AS in_comp
     FROM (
       SELECT id, definition, step_name, status, revision, comp_plan, coalesce(last_error, reason, '') AS raw,
         regexp_replace(regexp_replace(coalesce(last_error, reason, ''), '${UUID}', '<id>', 'g'), '(?<!HTTP )(?<![0-9])[0-9]+', '#', 'g') AS err
       FROM {{schema}}.sagas
       WHERE (status IN ('running', 'compensating') AND last_error IS NOT NULL) OR status = 'suspended'
     ) f
     GROUP BY definition, step_name, err
     ORDER BY count(*) DESC, definition, step_name NULLS FIRST, err
     LIMIT $1`,
    [q.limit],
  )
  return res.rows.map((r) => {
    const ids = parseArray(r.ids)
    const revisions = parseArray(r.revisions).map(Number)
    const sagaStatuses = parseArray(r.saga_statuses) as SagaStatus[]
    const inComp = parseArray(r.in_comp).map(Number)
    const step = (r.step as string | null) ?? null
    const error = oneLine(r.error as string)
    return {
      key: `${r.definition as string}\u0000${step ?? ''}\u0000${error}`,
      definition: r.definition as string,
      step,
      error,
      sample: oneLine(r.sample as string),
      count: Number(r.count),
      statuses: parseArray(r.statuses) as SagaStatus[],
      sagas: ids.map((id, i) => ({ id, revision: revisions[i] ?? 0, status: sagaStatuses[i], inCompensation: inComp[i] === 1 })),
    }
  })
}

/** Both drivers parse arrays of text and int; a driver that hands back `{a,b}` text still works. */
function parseArray(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String)
  if (typeof v === 'string' && v.startsWith('{') && v.endsWith('}')) {
    const inner = v.slice(1, -1)
    return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"|"$/g, ''))
  }
  return []
}
