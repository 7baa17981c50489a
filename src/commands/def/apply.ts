import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import * as out from '../../cli/output.js'
import { color, table } from '../../cli/render.js'
import { applyDefinition, getDefinition } from '../../db/definitions.js'
import type { Problem } from '../../engine/definition.js'
import { currentOperator } from '../../engine/operator.js'
import { InvalidDefinitionError, UsageError } from '../../errors.js'
import { formatProblem, loadDefinitionFile, type LoadedDefinition } from '../../cli/definition-file.js'
import { EXAMPLES_HINT } from '../../cli/examples.js'

const DEFINITION_FILE = /\.(ya?ml|json)$/i

/** The file itself, or the definition files directly in a directory, sorted so the order is repeatable. */
function definitionFiles(path: string): string[] {
  let isDir: boolean
  try {
    isDir = statSync(path).isDirectory()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UsageError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`, code === 'ENOENT' ? EXAMPLES_HINT : undefined)
  }
  if (!isDir) return [path]
  const files = readdirSync(path)
    .filter((n) => DEFINITION_FILE.test(n))
    .sort()
    .map((n) => join(path, n))
    .filter((f) => {
      try {
        return statSync(f).isFile()
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        throw new UsageError(`cannot read ${f}: ${code === 'ENOENT' ? 'a symlink to a file that does not exist' : (err as Error).message}`)
      }
    })
  if (files.length === 0) throw new UsageError(`no definition files (*.yaml, *.yml, *.json) in ${path}`)
  return files
}

/** Two files naming the same definition would race each other into versions: refuse. */
function duplicateNames(loaded: LoadedDefinition[]): Problem[] {
  const firstFile = new Map<string, string>()
  const problems: Problem[] = []
  for (const l of loaded) {
    const name = l.definition?.name
    if (name === undefined) continue
    const other = firstFile.get(name)
    if (other === undefined) firstFile.set(name, l.file)
    else problems.push({ file: l.file, line: 1, col: 1, message: `definition "${name}" is also defined in ${other}: one file per definition` })
  }
  return problems
}

export default class DefApply extends BaseCommand<typeof DefApply> {
  static override summary = 'Register definitions: changed content becomes a new version.'
  static override description =
    'Given a directory, applies every *.yaml, *.yml and *.json file directly in it (sorted, not recursive). All files are validated first; if any has a problem, nothing is applied. Content already registered (same checksum: formatting and comments do not count) is left unchanged. Running sagas stay on the version they started with. Each new version is written to the audit log.'
  static override examples = [
    '<%= config.bin %> def apply examples/order-checkout.yaml',
    '<%= config.bin %> def apply defs/ --operator deploy-bot',
    '<%= config.bin %> def apply defs/ --json',
  ]
  static override args = {
    path: Args.string({ required: true, description: 'A definition file, or a directory of them.' }),
  }
  static override flags = {
    operator: Flags.string({ summary: 'Who the audit log records [default: the OS user].' }),
  }

  async run() {
    const loaded = definitionFiles(this.args.path).map(loadDefinitionFile)
    const problems = [...loaded.flatMap((l) => l.problems), ...duplicateNames(loaded)]
    if (problems.length > 0) {
      for (const p of problems) void out.errLine(formatProblem(p))
      const files = new Set(problems.map((p) => p.file)).size
      throw new InvalidDefinitionError(
        `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}: nothing applied`,
        'fix them and apply again',
      )
    }

    const db = await this.db()
    const operator = currentOperator(this.flags.operator)
    const items: Array<{ name: string; version: number; checksum: string; created: boolean; file: string }> = []
    for (const l of loaded) {
      const { definition, created } = await applyDefinition(db, { spec: l.definition!, source: l.text, checksum: l.checksum!, operator, file: l.file })
      items.push({ name: definition.name, version: definition.version, checksum: definition.checksum, created, file: l.file })
      if (!created) {
        // The store keeps each content once, so reapplying an older file cannot make it the latest again.
        const latest = await getDefinition(db, definition.name)
        if (latest && latest.version > definition.version) {
          void out.errLine(
            `note: ${l.file} matches version ${definition.version} of "${definition.name}", but version ${latest.version} is the latest and new sagas start on it`,
          )
        }
      }
    }

    if (!this.jsonEnabled()) {
      this.log(table(['name', 'version', 'result', 'file'], items.map((i) => [i.name, i.version, i.created ? color.green('created') : color.gray('unchanged'), i.file])))
    }
    return { items }
  }
}
