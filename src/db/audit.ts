import { AUDIT_COLUMNS, toAudit } from './rows.js'
import type { Queryable } from './types.js'
import type { AuditEntry } from '../engine/types.js'

export interface AuditRecord {
  operator: string
  action: string
  target: string
  sagaId?: string | null
  reason?: string | null
  details?: Record<string, unknown> | null
}

/** Written in the same transaction as the action it records. */
export async function recordAudit(q: Queryable, e: AuditRecord): Promise<void> {
  await q.query(
    `INSERT INTO {{schema}}.audit_log (operator, action, target, saga_id, reason, details) VALUES ($1, $2, $3, $4, $5, $6)`,
    [e.operator, e.action, e.target, e.sagaId ?? null, e.reason ?? null, e.details ? JSON.stringify(e.details) : null],
  )
}

export async function auditForSaga(q: Queryable, sagaId: string, limit = 100): Promise<AuditEntry[]> {
  const res = await q.query(`SELECT ${AUDIT_COLUMNS} FROM {{schema}}.audit_log WHERE saga_id = $1 ORDER BY id LIMIT $2`, [sagaId, limit])
  return res.rows.map(toAudit)
}

export async function listAudit(q: Queryable, opts: { target?: string; limit?: number } = {}): Promise<AuditEntry[]> {
  const res = opts.target
    ? await q.query(`SELECT ${AUDIT_COLUMNS} FROM {{schema}}.audit_log WHERE target = $1 ORDER BY id DESC LIMIT $2`, [opts.target, opts.limit ?? 100])
    : await q.query(`SELECT ${AUDIT_COLUMNS} FROM {{schema}}.audit_log ORDER BY id DESC LIMIT $1`, [opts.limit ?? 100])
  return res.rows.map(toAudit)
}
