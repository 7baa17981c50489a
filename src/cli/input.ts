import { readFileSync } from 'node:fs'
import { unstorableJson } from '../engine/storable.js'
import { UsageError } from '../errors.js'
import { EXAMPLES_HINT } from './examples.js'

export { MAX_INPUT_DEPTH } from '../engine/storable.js'

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
      const code = (err as NodeJS.ErrnoException).code
      throw new UsageError(`${flag}: cannot read ${path}: ${code ?? (err as Error).message}`, code === 'ENOENT' ? EXAMPLES_HINT : undefined)
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
