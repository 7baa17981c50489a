import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConflictError } from '../errors.js'

/** The examples that ship with the package ("files" in package.json); the same path from src/cli and dist/cli. */
export const PACKAGED_EXAMPLES_DIR = fileURLToPath(new URL('../../examples/', import.meta.url))

/** What `sagactl init` writes, under `examples/` of the directory it is given. */
export const STARTER_FILES = ['order-checkout.yaml', 'order.json'] as const

/** The pointer a "cannot read" of a definition or input file ends with. */
export const EXAMPLES_HINT = 'to write the example definition and input into ./examples, run: sagactl init'

export interface StarterFile {
  file: string
  result: 'created' | 'unchanged' | 'replaced'
}

/**
 * Writes the starter files under `<dir>/examples/`. Every file is checked before any is
 * written: one already there with other content refuses the lot (unless `force`), so a
 * refusal leaves the directory as it was.
 */
export function writeStarterFiles(dir: string, opts: { force?: boolean } = {}): StarterFile[] {
  const plan = STARTER_FILES.map((name) => {
    const file = join(dir, 'examples', name)
    const content = readFileSync(join(PACKAGED_EXAMPLES_DIR, name), 'utf8')
    const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined
    const result: StarterFile['result'] = current === undefined ? 'created' : current === content ? 'unchanged' : 'replaced'
    return { file, content, result }
  })
  const differing = plan.filter((p) => p.result === 'replaced')
  if (differing.length > 0 && !opts.force) {
    throw new ConflictError(`${differing.map((p) => p.file).join(', ')} already there with other content`, 'keep it, or replace it: sagactl init --force')
  }
  mkdirSync(join(dir, 'examples'), { recursive: true })
  for (const p of plan) if (p.result !== 'unchanged') writeFileSync(p.file, p.content)
  return plan.map(({ file, result }) => ({ file, result }))
}
