import { createHash } from 'node:crypto'
import type { Queryable } from '../db/types.js'
import type { Saga } from './types.js'

/** Values up to this size are kept whole in the audit log; larger ones by hash and size. */
export const AUDIT_VALUE_LIMIT = 4096

export type AuditValue = { value: unknown } | { sha256: string; bytes: number }

/** How the audit log keeps a value an operator replaced or supplied. */
export function auditValue(v: unknown): AuditValue {
  const text = JSON.stringify(v ?? null)
  const bytes = Buffer.byteLength(text)
  if (bytes <= AUDIT_VALUE_LIMIT) return { value: v ?? null }
  return { sha256: createHash('sha256').update(text).digest('hex'), bytes }
}

/** Replaces the saga input inside an operator action's transaction; returns the audit details (old and new). */
export async function replaceInput(tx: Queryable, saga: Saga, input: unknown): Promise<Record<string, unknown>> {
  await tx.query(`UPDATE {{schema}}.sagas SET input = $2::jsonb WHERE id = $1`, [saga.id, JSON.stringify(input ?? null)])
  return { input: { old: auditValue(saga.input), new: auditValue(input) } }
}
