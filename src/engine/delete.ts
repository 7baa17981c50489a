import { recordAudit } from '../db/audit.js'
import { channelFor, type Database } from '../db/types.js'
import { ChangedError, NotFoundError, UsageError } from '../errors.js'
import type { ActionContext } from './actions.js'
import { deleteRefusal, refuse } from './eligibility.js'
import type { Saga } from './types.js'

export interface DeletedSaga {
  id: string
  definition: string
  version: number
  status: Saga['status']
  /** The start key, now reserved: a start with it is refused (SQLSTATE SG004). */
  key: string | null
  deletedAt: Date
  deletedBy: string
}

/**
 * Deletes a finished saga with its steps, events and interventions, in one transaction
 * with its audit row (the audit log outlives the saga) and, when it had a start key, the
 * key's reservation in deleted_keys: a start with that key is refused from then on.
 */
export async function deleteSaga(db: Database, sagaId: string, ctx: ActionContext & { reason: string }): Promise<DeletedSaga> {
  if (ctx.reason.trim() === '') throw new UsageError('the reason is empty', 'say why, for the audit log')
  if (ctx.operator.trim() === '') throw new UsageError('the operator is empty', 'give a name with --operator, or leave it out to use the OS user')
  return db.transaction(async (tx) => {
    const res = await tx.query<{ revision: number; status: Saga['status']; definition: string; version: number; idempotency_key: string | null; tags: unknown; created_at: Date; finished_at: Date | null }>(
      `SELECT revision, status, definition, version, idempotency_key, tags, created_at, finished_at FROM {{schema}}.sagas WHERE id = $1 FOR UPDATE`,
      [sagaId],
    )
    const saga = res.rows[0]
    if (!saga) throw new NotFoundError(`saga ${sagaId} not found`)
    if (ctx.expectedRevision !== undefined && saga.revision !== ctx.expectedRevision) {
      throw new ChangedError(`saga ${sagaId} changed since you looked at it (revision ${ctx.expectedRevision} -> ${saga.revision}, now ${saga.status})`)
    }
    refuse(sagaId, deleteRefusal(saga))
    const key = saga.idempotency_key
    const at = await tx.query<{ now: Date }>(
      key === null
        ? `SELECT now() AS now`
        : `INSERT INTO {{schema}}.deleted_keys (idempotency_key, saga_id, definition, deleted_by) VALUES ($1, $2, $3, $4) RETURNING deleted_at AS now`,
      key === null ? [] : [key, sagaId, saga.definition, ctx.operator],
    )
    await tx.query(
      `WITH s AS (DELETE FROM {{schema}}.steps WHERE saga_id = $1),
            e AS (DELETE FROM {{schema}}.events WHERE saga_id = $1),
            i AS (DELETE FROM {{schema}}.interventions WHERE saga_id = $1)
       DELETE FROM {{schema}}.sagas WHERE id = $1`,
      [sagaId],
    )
    // Consoles and followers re-read what they show (delivered on commit). A notice
    // without `changes` means "re-read": a deleted saga has no status to name.
    await tx.query(`SELECT pg_notify($1, $2)`, [channelFor(db.schema), JSON.stringify({ count: 1 })])
    await recordAudit(tx, {
      operator: ctx.operator,
      action: 'saga.delete',
      target: sagaId,
      sagaId,
      reason: ctx.reason,
      details: {
        status: saga.status,
        definition: saga.definition,
        version: saga.version,
        key,
        tags: saga.tags,
        revision: saga.revision,
        createdAt: new Date(saga.created_at).toISOString(),
        finishedAt: saga.finished_at ? new Date(saga.finished_at).toISOString() : null,
      },
    })
    return { id: sagaId, definition: saga.definition, version: saga.version, status: saga.status, key, deletedAt: new Date(at.rows[0]!.now), deletedBy: ctx.operator }
  })
}
