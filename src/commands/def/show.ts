import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { color, table } from '../../cli/render.js'
import { getDefinition } from '../../db/definitions.js'
import { isHttpCall } from '../../engine/call-kind.js'
import type { Call, RetryPolicy } from '../../engine/definition.js'
import { formatDuration } from '../../engine/duration.js'
import { NotFoundError } from '../../errors.js'

const callText = (call: Call | undefined): string => {
  if (!call) return ''
  if (!isHttpCall(call)) return `${call.module}#${call.export}`
  const text = call.http.method === 'POST' ? call.http.url : `${call.http.method} ${call.http.url}`
  return call.http.protocol === 'dtm' ? `${text} (dtm)` : text
}

// A fixed backoff never grows, so its cap says nothing.
const retryText = (r: RetryPolicy): string =>
  r.maxAttempts === 1
    ? 'no retries'
    : `${r.maxAttempts}x ${r.backoff} ${formatDuration(r.initialDelay)}${r.backoff === 'fixed' ? '' : `..${formatDuration(r.maxDelay)}`}${r.jitter ? ' jitter' : ''}`

export default class DefShow extends BaseCommand<typeof DefShow> {
  static override summary = 'Print a definition: its steps, policies and the file as applied.'
  static override description = 'Shows the latest version unless --version is given. With --json, prints the stored definition including the normalised spec (durations in milliseconds, defaults filled in).'
  static override examples = [
    '<%= config.bin %> def show order-checkout',
    '<%= config.bin %> def show order-checkout --version 1',
    '<%= config.bin %> def show order-checkout --json',
  ]
  static override args = {
    name: Args.string({ required: true, description: 'Definition name.' }),
  }
  static override flags = {
    version: Flags.integer({ min: 1, summary: 'Show this version instead of the latest.' }),
  }

  async run() {
    const db = await this.db()
    const { name } = this.args
    const wanted = this.flags.version
    const def = await getDefinition(db, name, wanted)
    if (!def) {
      const latest = wanted === undefined ? null : await getDefinition(db, name)
      if (latest) throw new NotFoundError(`definition "${name}" has no version ${wanted} (latest is ${latest.version})`)
      throw new NotFoundError(`definition "${name}" not found`, 'see: sagactl def list')
    }

    if (!this.jsonEnabled()) {
      const { spec } = def
      const label = (s: string) => color.bold(s.padEnd(12))
      this.log(`${color.bold(def.name)} version ${def.version}`)
      if (spec.description) this.log(`${label('description')}${spec.description}`)
      this.log(`${label('checksum')}${def.checksum}`)
      this.log(`${label('applied')}${def.createdAt.toISOString()}${def.createdBy ? ` by ${def.createdBy}` : ''}`)
      this.log(`${label('timeout')}${spec.timeout === undefined ? 'none' : formatDuration(spec.timeout)}`)
      if (spec.compensationOrder) this.log(`${label('compensates')}${spec.compensationOrder.join(', ')}`)
      this.log('')
      this.log(
        table(
          ['step', 'action', 'compensation', 'retry', 'timeout', 'on failure', 'compensation retry'],
          spec.steps.map((s) => [s.name, callText(s.action), callText(s.compensation), retryText(s.retry), formatDuration(s.timeout), s.onFailure, s.compensation ? retryText(s.compensationRetry) : '']),
        ),
      )
      this.log('')
      this.log(color.bold('source:'))
      this.log(def.source.replace(/\n$/, ''))
    }
    return def
  }
}
