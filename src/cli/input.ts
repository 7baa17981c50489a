import { readFileSync } from 'node:fs'
import { UsageError } from '../errors.js'

/** `--input` takes JSON text, or `@path` to read it from a file (`@-` for stdin). */
export function readJsonInput(value: string | undefined, flag = '--input'): unknown {
  if (value === undefined) return {}
  let text = value
  if (value.startsWith('@')) {
    const path = value.slice(1)
    try {
      text = readFileSync(path === '-' ? 0 : path, 'utf8')
    } catch (err) {
      throw new UsageError(`${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new UsageError(`${flag} is not valid JSON: ${(err as Error).message}`)
  }
}
