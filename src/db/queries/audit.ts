import { NotFoundError, UsageError } from '../../errors.js'
import type { AuditEntry } from '../../engine/types.js'
import { AUDIT_COLUMNS, toAudit } from '../rows.js'
import type { Queryable } from '../types.js'
import { escapeLike, KEY_PREFIX, normalizeUuid, resolveSagaId, type Page } from './sagas.js'

/** What `audit list` selects across sagas; every field narrows the set. */
export interface AuditFilter {
  /** At or after this time. */
  since?: Date
  operator?: string
  /** `saga.retry` exactly; without a dot, a family (`saga`: every saga action) or a verb (`retry`: saga.retry and the like). */
  action?: string
  sagaId?: string
  limit: number
  /** The `next` cursor of the previous page: the last audit id it showed. */
  after?: number
}

/** Newest first, keyset-paginated on the audit id (the primary key, so the newest rows come first off the index). */
export async function listAuditEntries(q: Queryable, f: AuditFilter): Promise<Page<AuditEntry>> {
  if (!Number.isInteger(f.limit) || f.limit < 1) throw new UsageError(`limit must be a positive integer, got ${f.limit}`)
  const values: unknown[] = []
  const add = (v: unknown) => `$${values.push(v)}`
  const conds: string[] = []
  if (f.since) conds.push(`at >= ${add(f.since)}`)
  if (f.operator !== undefined) conds.push(`operator = ${add(f.operator)}`)
  if (f.action !== undefined) {
    if (f.action.includes('.')) conds.push(`action = ${add(f.action)}`)
    else {
      const a = escapeLike(f.action)
      conds.push(`(action LIKE ${add(`${a}.%`)} OR action LIKE ${add(`%.${a}`)})`)
    }
  }
  if (f.sagaId !== undefined) conds.push(`saga_id = ${add(f.sagaId)}::uuid`)
  if (f.after !== undefined) conds.push(`id < ${add(f.after)}`)
  const res = await q.query(
    `SELECT ${AUDIT_COLUMNS} FROM {{schema}}.audit_log ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${add(f.limit + 1)}`,
    values,
  )
  const items = res.rows.map(toAudit)
  if (items.length <= f.limit) return { items, next: null }
  const shown = items.slice(0, f.limit)
  return { items: shown, next: String(shown[shown.length - 1]!.id) }
}

/**
 * The saga an audit search names: a full id as given (the saga may have been deleted:
 * its audit rows outlive it), `key:<k>` also for a deleted saga's reserved key, else a
 * unique prefix of a saga that still exists.
 */
export async function auditSagaId(q: Queryable, ref: string): Promise<string> {
  const full = normalizeUuid(ref)
  if (full) return full
  try {
    return await resolveSagaId(q, ref)
  } catch (err) {
    if (!(err instanceof NotFoundError) || !ref.startsWith(KEY_PREFIX)) throw err
    const res = await q.query<{ saga_id: string }>(`SELECT saga_id FROM {{schema}}.deleted_keys WHERE idempotency_key = $1`, [ref.slice(KEY_PREFIX.length)])
    if (!res.rows[0]) throw err
    return res.rows[0].saga_id
  }
}
