import { readFileSync } from 'node:fs'
import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { color } from '../../cli/render.js'
import { definitionChecksum, parseDefinition, type Problem, type SagaDefinition } from '../../engine/definition.js'
import { UsageError } from '../../errors.js'

export interface LoadedDefinition {
  file: string
  text: string
  definition?: SagaDefinition
  checksum?: string
  problems: Problem[]
}

/** Reads and checks one definition file; the problems carry the path exactly as the user wrote it. */
export function loadDefinitionFile(file: string): LoadedDefinition {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message
    throw new UsageError(`cannot read ${file}: ${why}`)
  }
  const parsed = parseDefinition(text, file)
  return {
    file,
    text,
    problems: parsed.problems,
    ...(parsed.definition ? { definition: parsed.definition, checksum: definitionChecksum(parsed.source) } : {}),
  }
}

export const formatProblem = (p: Problem): string => `${p.file}:${p.line}:${p.col} ${p.message}`

export default class DefValidate extends BaseCommand<typeof DefValidate> {
  static override summary = 'Check a definition file without touching the database.'
  static override description =
    'Prints OK with the definition name and step count, or every problem as file:line:col message on stderr (the format editors and CI annotate). Exit 2 when the file has problems.'
  static override examples = [
    '<%= config.bin %> def validate examples/order-checkout.yaml',
    '<%= config.bin %> def validate defs/payment.json --json',
  ]
  static override args = {
    file: Args.string({ required: true, description: 'A definition file (YAML or JSON).' }),
  }

  async run() {
    const loaded = loadDefinitionFile(this.args.file)
    const valid = loaded.problems.length === 0
    const out = {
      file: loaded.file,
      valid,
      ...(loaded.definition ? { name: loaded.definition.name, steps: loaded.definition.steps.length } : {}),
      problems: loaded.problems,
    }
    if (!valid) process.exitCode = 2
    if (!this.jsonEnabled()) {
      if (valid) this.log(`${color.green('OK')} ${loaded.file}: ${out.name} (${out.steps} step${out.steps === 1 ? '' : 's'})`)
      else for (const p of loaded.problems) process.stderr.write(`${formatProblem(p)}\n`)
    }
    return out
  }
}
