import { readFileSync } from 'node:fs'
import { UsageError } from '../errors.js'

/** Deeper than this is not a saga input but an attack on every reader of it (PostgreSQL's jsonb included). */
export const MAX_INPUT_DEPTH = 512

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

/** `--input` takes JSON text, or `@path` to read it from a file (`@-` for stdin). */
export function readJsonInput(value: string | undefined, flag = '--input'): unknown {
  if (value === undefined) return {}
  let text = value
  const fromFile = value.startsWith('@')
  if (fromFile) {
    const path = value.slice(1)
    try {
      text = readFileSync(path === '-' ? 0 : path, 'utf8')
    } catch (err) {
      throw new UsageError(`${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    // V8 quotes the start of the text: fine for what was typed, not for a file's contents.
    if (fromFile) throw new UsageError(`${flag}: ${value.slice(1)} is not valid JSON`)
    throw new UsageError(`${flag} is not valid JSON: ${(err as Error).message}`)
  }
  const problem = unstorableJson(parsed)
  if (problem) throw new UsageError(`${flag} ${problem}`)
  return parsed
}
