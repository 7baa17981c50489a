// What PostgreSQL can keep as text or jsonb: inputs and definitions are checked against
// it before anything is written, so the database never refuses them half-way.
import { MAX_JSON_DEPTH } from './limits.js'

/** Deeper than this is not a saga input but an attack on every reader of it: the engine's one JSON depth limit. */
export const MAX_INPUT_DEPTH = MAX_JSON_DEPTH

/**
 * Why PostgreSQL could not store the value as jsonb, or null: a NUL character in a string
 * or key (text cannot hold one), or nesting past MAX_INPUT_DEPTH. Iterative, so any depth
 * JSON.parse accepted is walked without overflowing the stack.
 */
export function unstorableJson(value: unknown): string | null {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return 'contains a NUL character (\\u0000), which PostgreSQL cannot store'
      continue
    }
    if (v === null || typeof v !== 'object') continue
    if (depth >= MAX_INPUT_DEPTH) return `is nested deeper than ${MAX_INPUT_DEPTH} levels`
    for (const [k, child] of Object.entries(v)) {
      if (k.includes('\u0000')) return 'contains a NUL character (\\u0000) in a key, which PostgreSQL cannot store'
      stack.push([child, depth + 1])
    }
  }
  return null
}
