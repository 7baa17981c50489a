import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { color } from '../../cli/render.js'
import { terminalSafeLine } from '../../cli/terminal-text.js'
import { getDefinitionPair } from '../../db/definitions.js'
import { diffDefinitions, type FieldChange } from '../../engine/definition-diff.js'
import { formatDuration } from '../../engine/duration.js'
import { UsageError } from '../../errors.js'

// Fields in milliseconds in the normalised spec: shown as durations.
const DURATION = /(^|\.)(timeout|initialDelay|maxDelay|within|cooldown)$/

function valueText(field: string, v: unknown): string {
  if (v === undefined) return color.dim('(none)')
  if (typeof v === 'number' && DURATION.test(field)) return formatDuration(v)
  return typeof v === 'string' ? terminalSafeLine(v) : JSON.stringify(v)
}

const fieldLine = (c: FieldChange, indent: string) => `${indent}${c.field}: ${color.red(valueText(c.field, c.from))} -> ${color.green(valueText(c.field, c.to))}`

/** A version number, or undefined for `latest`. */
function parseVersion(text: string, which: string): number | undefined {
  if (text === 'latest') return undefined
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`invalid ${which} "${text}": a version number (1, 2, …) or latest`)
  return n
}

export default class DefDiff extends BaseCommand<typeof DefDiff> {
  static override summary = 'Show what changed between two versions of a definition, step by step and field by field.'
  static override description =
    'Compares the normalised specs as stored (defaults filled in), so a changed default shows too: steps added, removed, moved, and each changed field (action.http.url, timeout, retry.maxAttempts, compensation, onFailure, …) with its old and new value. ' +
    'Steps are matched by name, as "saga migrate" matches them. Exit 0 whether or not they differ ("same" in --json says which); 3 when a version does not exist.'
  static override examples = [
    '<%= config.bin %> def diff order-checkout 1 2',
    '<%= config.bin %> def diff order-checkout 3 latest --json',
  ]
  static override args = {
    name: Args.string({ required: true, description: 'Definition name.' }),
    v1: Args.string({ required: true, description: 'The older version (a number, or latest).' }),
    v2: Args.string({ required: true, description: 'The newer version (a number, or latest).' }),
  }

  async run() {
    const { name } = this.args
    const from = parseVersion(this.args.v1, 'v1')
    const to = parseVersion(this.args.v2, 'v2')
    const db = await this.readDb()
    const [a, b] = await getDefinitionPair(db, name, from, to)
    const diff = diffDefinitions(a, b)
    if (!this.jsonEnabled()) {
      this.log(`${color.bold(name)}: version ${diff.from} -> ${diff.to}`)
      if (diff.same) this.log('no differences')
      for (const c of diff.changes) this.log(fieldLine(c, '  '))
      for (const s of diff.steps) {
        if (s.change === 'added') this.log(color.green(`+ step ${s.step} (added at position ${s.toIndex! + 1})`))
        else if (s.change === 'removed') this.log(color.red(`- step ${s.step} (removed; was at position ${s.fromIndex! + 1})`))
        else {
          this.log(`~ step ${s.step}${s.moved ? ` (moved: position ${s.fromIndex! + 1} -> ${s.toIndex! + 1})` : ''}`)
          for (const c of s.fields) this.log(fieldLine(c, '    '))
        }
      }
    }
    return diff
  }
}
