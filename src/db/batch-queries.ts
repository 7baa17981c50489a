import type { Saga } from '../engine/types.js'
import type { ClaimedSaga } from './saga-store.js'
import { SAGA_COLUMNS, toSaga } from './rows.js'
import { channelFor, workChannelFor, type Database, type Queryable } from './types.js'

/**
 * The scheduler pass's own queries: sagas past their deadline that no live lease
 * covers, leases abandoned long ago, and a claim limited to due compensations. Each
 * selection locks with SKIP LOCKED, so overlapping passes and workers never take the
 * same saga at once.
 */

/**
 * A saga past its deadline that has not started compensating, held by no live lease: a
 * worker holding one handles its own deadline. A pending one is compensated with nothing attempted.
 */
const OVERDUE = `status IN ('pending', 'running') AND deadline_at < now() AND (lease_owner IS NULL OR due_at <= now())`

export interface SagaRef {
  id: string
  definition: string
  version: number
}

/** Candidates only, unlocked: the caller loads their definitions, then locks them with `lockOverdue`. */
export async function findOverdue(q: Queryable, limit: number): Promise<SagaRef[]> {
  const res = await q.query<SagaRef>(
    `SELECT id, definition, version FROM {{schema}}.sagas WHERE ${OVERDUE} ORDER BY deadline_at LIMIT $1`,
    [limit],
  )
  return res.rows
}

/** Locks those of `ids` still overdue (inside a transaction); rows a worker is claiming are skipped. */
export async function lockOverdue(tx: Queryable, ids: string[]): Promise<Saga[]> {
  if (ids.length === 0) return []
  const res = await tx.query(
    `SELECT ${SAGA_COLUMNS} FROM {{schema}}.sagas WHERE id = ANY($1::uuid[]) AND ${OVERDUE} ORDER BY deadline_at FOR UPDATE SKIP LOCKED`,
    [ids],
  )
  return res.rows.map(toSaga)
}

export interface Reclaimed {
  id: string
  status: Saga['status']
  from: string
}

/**
 * Hands back sagas whose lease expired and which have made no progress for
 * `stuckAfterMs`: the lease is cleared (due now, so any worker or pass continues them)
 * and a `saga.reclaimed` event records whose lease it was. Progress (`updated_at`) is
 * left alone: taking a lease back is not progress.
 */
export async function reclaimStuck(db: Database, stuckAfterMs: number, limit: number): Promise<Reclaimed[]> {
  const res = await db.query<Reclaimed>(
    `WITH c AS (
       SELECT id, lease_owner AS previous_owner FROM {{schema}}.sagas
       WHERE status IN ('running', 'compensating') AND lease_owner IS NOT NULL AND due_at < now()
         AND updated_at < now() - $1 * interval '1 millisecond'
       ORDER BY due_at
       LIMIT $2
       FOR UPDATE SKIP LOCKED
     ), u AS (
       UPDATE {{schema}}.sagas s SET lease_owner = NULL, due_at = now()
       FROM c WHERE s.id = c.id
       RETURNING s.id, s.status, s.step_name, c.previous_owner
     ), ev AS (
       INSERT INTO {{schema}}.events (saga_id, type, step, data)
       SELECT id, 'saga.reclaimed', step_name, jsonb_build_object('from', previous_owner, 'by', 'scheduler', 'reason', 'lease expired, no progress')
       FROM u
     )
     SELECT u.id, u.status, u.previous_owner AS "from",
            (SELECT pg_notify($3, json_build_object('count', count(*))::text) FROM u) AS notified,
            (SELECT pg_notify($4, '')) AS woke
     FROM u`,
    [stuckAfterMs, limit, channelFor(db.schema), workChannelFor(db.schema)],
  )
  return res.rows.map((r) => ({ id: r.id, status: r.status, from: r.from }))
}

/** The worker's claim, limited to due compensations. */
export async function claimCompensations(db: Database, owner: string, leaseMs: number, limit: number): Promise<ClaimedSaga[]> {
  if (limit <= 0) return []
  const res = await db.query(
    `WITH c AS (
       SELECT id, lease_owner AS previous_owner FROM {{schema}}.sagas
       WHERE status = 'compensating' AND due_at <= now()
       ORDER BY due_at
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     )
     UPDATE {{schema}}.sagas s SET lease_owner = $1, due_at = now() + $2 * interval '1 millisecond'
     FROM c WHERE s.id = c.id
     RETURNING c.previous_owner, ${SAGA_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}`,
    [owner, leaseMs, limit],
  )
  return res.rows.map((r) => ({
    saga: toSaga(r),
    reclaimedFrom: r.previous_owner && r.previous_owner !== owner ? (r.previous_owner as string) : null,
    started: false,
  }))
}

/** Due compensations right now, for a progress total. */
export async function countDueCompensations(q: Queryable, limit: number): Promise<number> {
  const res = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM {{schema}}.sagas WHERE status = 'compensating' AND due_at <= now() LIMIT $1) d`,
    [limit],
  )
  return res.rows[0]?.n ?? 0
}

/** When the next compensation waiting for a retry falls due, if any. */
export async function nextCompensationDue(q: Queryable): Promise<Date | null> {
  const res = await q.query<{ due: Date | string | null }>(`SELECT min(due_at) AS due FROM {{schema}}.sagas WHERE status = 'compensating'`)
  const due = res.rows[0]?.due ?? null
  return due === null ? null : due instanceof Date ? due : new Date(due)
}
