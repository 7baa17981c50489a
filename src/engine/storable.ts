// What PostgreSQL can keep as text or jsonb. Inputs and definitions are checked against it
// before anything is written, and call outputs before they are recorded, so the database
// never refuses a value half-way.
import { formatBytes, MAX_JSON_DEPTH } from './limits.js'

/** Deeper than this is not a saga input but an attack on every reader of it: the engine's one JSON depth limit. */
export const MAX_INPUT_DEPTH = MAX_JSON_DEPTH

/**
 * Walks a JSON value without recursion (any depth JSON.parse accepted is walked without
 * overflowing the stack): why it nests past MAX_JSON_DEPTH, or, unless `nul` is false,
 * holds a NUL character in a string or key (text cannot hold one); null when neither.
 */
function walk(value: unknown, nul: boolean): string | null {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v === 'string') {
      if (nul && v.includes('\u0000')) return 'contains a NUL character (\\u0000), which PostgreSQL cannot store'
      continue
    }
    if (v === null || typeof v !== 'object') continue
    if (depth >= MAX_JSON_DEPTH) return `is nested deeper than ${MAX_JSON_DEPTH} levels`
    for (const [k, child] of Object.entries(v)) {
      if (nul && k.includes('\u0000')) return 'contains a NUL character (\\u0000) in a key, which PostgreSQL cannot store'
      stack.push([child, depth + 1])
    }
  }
  return null
}

/** Why PostgreSQL could not store the value as jsonb (a NUL, too deep, or its JSON over `maxBytes`), or null. */
export function unstorableJson(value: unknown, maxBytes?: number): string | null {
  return walk(value, true) ?? (maxBytes === undefined ? null : oversized(value, maxBytes).why)
}

/**
 * For a value whose NULs are replaced rather than refused (a participant's answer): why it
 * cannot be stored (too deep or too large), else its JSON text.
 */
export function storableJsonText(value: unknown, maxBytes: number): { why: string; json?: undefined } | { why: null; json: string } {
  const deep = walk(value, false)
  return deep ? { why: deep } : oversized(value, maxBytes)
}

function oversized(value: unknown, maxBytes: number): { why: string; json?: undefined } | { why: null; json: string } {
  const json = JSON.stringify(value) ?? 'null'
  return Buffer.byteLength(json) > maxBytes ? { why: `is larger than ${formatBytes(maxBytes)}` } : { why: null, json }
}
