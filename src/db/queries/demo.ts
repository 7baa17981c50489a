import { SAGA_COLUMNS, toSaga } from '../rows.js'
import type { Queryable } from '../types.js'
import type { Saga, SagaStatus } from '../../engine/types.js'

/** The reads `sagactl demo` makes of its own run: the sagas it started, by id or by key prefix. */

/** A worker of another demo, alive by its heartbeat in the last 15 s. */
export async function liveWorkerWithPrefix(q: Queryable, prefix: string): Promise<string | null> {
  const res = await q.query<{ id: string }>(
    `SELECT id FROM {{schema}}.workers WHERE id LIKE $1 AND stopped_at IS NULL AND heartbeat_at > now() - interval '15 seconds' LIMIT 1`,
    [`${prefix}%`],
  )
  return res.rows[0]?.id ?? null
}

/** Active sagas of a definition started with keys of this prefix. */
export async function activeSagaIdsWithKeyPrefix(q: Queryable, definition: string, prefix: string): Promise<string[]> {
  const res = await q.query<{ id: string }>(
    `SELECT id FROM {{schema}}.sagas WHERE status IN ('pending', 'running', 'compensating') AND definition = $1 AND idempotency_key LIKE $2`,
    [definition, `${prefix}%`],
  )
  return res.rows.map((r) => r.id)
}

export async function countByStatus(q: Queryable, ids: string[]): Promise<Map<SagaStatus, number>> {
  const res = await q.query<{ status: SagaStatus; n: number }>(`SELECT status, count(*)::int AS n FROM {{schema}}.sagas WHERE id = ANY($1::uuid[]) GROUP BY status`, [ids])
  return new Map(res.rows.map((r) => [r.status, Number(r.n)]))
}

export async function sagasByIds(q: Queryable, ids: string[]): Promise<Saga[]> {
  const res = await q.query(`SELECT ${SAGA_COLUMNS} FROM {{schema}}.sagas WHERE id = ANY($1::uuid[]) ORDER BY id`, [ids])
  return res.rows.map(toSaga)
}

export async function openInterventionCount(q: Queryable, ids: string[]): Promise<number> {
  const res = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM {{schema}}.interventions WHERE status = 'open' AND saga_id = ANY($1::uuid[])`, [ids])
  return Number(res.rows[0]?.n ?? 0)
}

/** Sagas an operator acted on (retry, skip, compensate, abort, resolve): the audit log names them. */
export async function operatorTouchedIds(q: Queryable, ids: string[]): Promise<Map<string, string[]>> {
  const res = await q.query<{ saga_id: string; actions: string[] }>(
    `SELECT saga_id, array_agg(DISTINCT action ORDER BY action) AS actions FROM {{schema}}.audit_log WHERE saga_id = ANY($1::uuid[]) GROUP BY saga_id`,
    [ids],
  )
  return new Map(res.rows.map((r) => [r.saga_id, r.actions]))
}
