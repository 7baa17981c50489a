import { createHash } from 'node:crypto'
import type { Queryable } from '../db/types.js'
import { UsageError } from '../errors.js'
import { MAX_INPUT_BYTES, MAX_OUTPUT_BYTES } from './limits.js'
import { unstorableJson } from './storable.js'
import type { Saga } from './types.js'

/** An operator's value that could not be stored or sent whole is refused before anything is written. */
export function refuseUnstorable(what: string, value: unknown, maxBytes = MAX_OUTPUT_BYTES): void {
  const problem = unstorableJson(value ?? null, maxBytes)
  if (problem) throw new UsageError(`${what} ${problem}: nothing was changed`)
}

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
  refuseUnstorable('input', input, MAX_INPUT_BYTES)
  await tx.query(`UPDATE {{schema}}.sagas SET input = $2::jsonb WHERE id = $1`, [saga.id, JSON.stringify(input ?? null)])
  return { input: { old: auditValue(saga.input), new: auditValue(input) } }
}
