import type { Saga } from '../engine/types.js'
import { ConflictError } from '../errors.js'
import { deletedKeyNote } from './queries/sagas.js'
import { SAGA_COLUMNS, toSaga } from './rows.js'
import { channelFor, workChannelFor, type Queryable } from './types.js'

/**
 * The writes of `saga fork` and `saga migrate` that a transition cannot express: a saga
 * created part-way through, and a saga's steps renumbered for another definition version.
 * Each runs inside the operator action's transaction.
 */

export interface NewFork {
  id: string
  original: string
  definition: string
  version: number
  input: unknown
  key: string | null
  tags: Record<string, string>
  deadlineAt: Date | null
  /** The step the fork starts at; 0 starts it from the beginning (pending). */
  fromIndex: number
  fromName: string
  /** The original's action rows to copy: their index there and here. */
  kept: Array<{ oldIndex: number; newIndex: number }>
  eventData: Record<string, unknown>
}

/** Inserts the fork, its kept steps (status, attempts and output of the original's) and its first event; wakes workers at commit. */
export async function insertFork(tx: Queryable, schema: string, f: NewFork): Promise<Saga> {
  const started = f.fromIndex > 0
  const res = await tx.query(
    `INSERT INTO {{schema}}.sagas (id, definition, version, status, step_index, step_name, input, idempotency_key, due_at, deadline_at, tags, forked_from)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, now(), $9, $10::jsonb, $11)
     RETURNING ${SAGA_COLUMNS}`,
    [f.id, f.definition, f.version, started ? 'running' : 'pending', started ? f.fromIndex : null, started ? f.fromName : null, JSON.stringify(f.input ?? null), f.key, f.deadlineAt, JSON.stringify(f.tags), f.original],
  ).catch(keyConflict)
  if (f.kept.length > 0) {
    await tx.query(
      `INSERT INTO {{schema}}.steps (saga_id, step_index, phase, name, status, attempts, output, started_at, finished_at, updated_at)
       SELECT $1, m.new_index, 'action', s.name, s.status, s.attempts, s.output, s.started_at, s.finished_at, now()
       FROM {{schema}}.steps s JOIN jsonb_to_recordset($3::jsonb) AS m(old_index int, new_index int) ON s.step_index = m.old_index
       WHERE s.saga_id = $2 AND s.phase = 'action'`,
      [f.id, f.original, JSON.stringify(f.kept.map((k) => ({ old_index: k.oldIndex, new_index: k.newIndex })))],
    )
  }
  await tx.query(
    `WITH ev AS (INSERT INTO {{schema}}.events (saga_id, type, data) VALUES ($1, 'saga.created', $2::jsonb))
     SELECT pg_notify($3, json_build_object('count', 1, 'changes', json_build_array(json_build_object('id', $1::text, 'status', $4::text, 'event', 'saga.created', 'step', $5::text)))::text),
            pg_notify($6, '')`,
    [f.id, JSON.stringify({ key: f.key, ...f.eventData }), channelFor(schema), started ? 'running' : 'pending', started ? f.fromName : null, workChannelFor(schema)],
  )
  return toSaga(res.rows[0]!)
}

export interface ForkSummary {
  id: string
  status: Saga['status']
  version: number
  currentStep: string | null
  createdAt: Date
}

/** The sagas forked from this one, oldest first. */
export async function forksOf(q: Queryable, sagaId: string, limit = 100): Promise<ForkSummary[]> {
  const res = await q.query(`SELECT ${SAGA_COLUMNS} FROM {{schema}}.sagas WHERE forked_from = $1 ORDER BY id LIMIT $2`, [sagaId, limit])
  return res.rows.map(toSaga).map((s) => ({ id: s.id, status: s.status, version: s.version, currentStep: s.currentStep, createdAt: s.createdAt }))
}

/**
 * The key was taken meanwhile, by a start committing after keyTaken() looked (unique
 * violation) or by the delete of the saga that held it (SG004, sql/0006): a conflict.
 */
function keyConflict(err: unknown): never {
  const e = err as { code?: unknown; message?: string }
  if (e?.code === 'SG004' || e?.code === '23505') throw new ConflictError(e.message ?? 'the key was taken meanwhile', 'give the fork another --key, or none')
  throw err
}

/** Why a start key cannot be given to a new saga (another saga has it, or had it and was deleted), or null. */
export async function keyTaken(q: Queryable, key: string): Promise<string | null> {
  const res = await q.query<{ id: string }>(`SELECT id FROM {{schema}}.sagas WHERE idempotency_key = $1`, [key])
  if (res.rows[0]) return `key "${key}" already started saga ${res.rows[0].id}`
  return deletedKeyNote(q, key)
}

/**
 * Moves a saga to another version of its definition: the version and deadline, and its
 * step rows renumbered (`map`: old index -> new index; rows of steps not in the map are
 * removed). Two passes through negative indexes, so no renumbering collides with a row
 * not yet moved.
 */
export async function moveToVersion(tx: Queryable, sagaId: string, version: number, deadlineAt: Date | null, map: Array<{ oldIndex: number; newIndex: number }>): Promise<void> {
  await tx.query(`UPDATE {{schema}}.sagas SET version = $2, deadline_at = $3 WHERE id = $1`, [sagaId, version, deadlineAt])
  const pairs = JSON.stringify(map.map((m) => ({ old_index: m.oldIndex, new_index: m.newIndex })))
  await tx.query(
    `DELETE FROM {{schema}}.steps WHERE saga_id = $1 AND step_index NOT IN (SELECT old_index FROM jsonb_to_recordset($2::jsonb) AS m(old_index int, new_index int))`,
    [sagaId, pairs],
  )
  await tx.query(
    `UPDATE {{schema}}.steps s SET step_index = -1 - m.new_index, updated_at = now()
     FROM jsonb_to_recordset($2::jsonb) AS m(old_index int, new_index int) WHERE s.saga_id = $1 AND s.step_index = m.old_index`,
    [sagaId, pairs],
  )
  await tx.query(`UPDATE {{schema}}.steps SET step_index = -1 - step_index WHERE saga_id = $1 AND step_index < 0`, [sagaId])
}
