import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { readJsonInput } from '../../cli/input.js'
import { color, status } from '../../cli/render.js'
import { formatDuration } from '../../engine/duration.js'
import { Engine } from '../../engine/engine.js'
import { ExitCode } from '../../errors.js'
import type { Saga } from '../../engine/types.js'

const EXIT_BY_STATUS: Partial<Record<Saga['status'], number>> = {
  completed: ExitCode.ok,
  compensated: ExitCode.compensated,
  suspended: ExitCode.suspended,
  failed: ExitCode.failed,
}

export default class SagaRun extends BaseCommand<typeof SagaRun> {
  static override summary = 'Start a saga and execute it in this process, step by step.'
  static override description =
    'Shows a live line per step on stderr. Exit 0 completed, 5 compensated, 6 suspended (an intervention is open), 7 failed. Retries wait in the database; this process waits for them.'
  static override examples = [
    `<%= config.bin %> saga run order-checkout --input @order.json`,
    `<%= config.bin %> saga run refund --input '{"paymentId":"p-9"}' --key refund-p-9 --defs ./steps --json`,
  ]
  static override args = {
    definition: Args.string({ description: 'Definition name.', required: true }),
  }
  static override flags = {
    input: Flags.string({ char: 'i', summary: 'Saga input: JSON, or @file.' }),
    key: Flags.string({ summary: 'Idempotency key: the same key returns the same saga.' }),
    version: Flags.integer({ summary: 'Definition version (default: the latest).', min: 1 }),
    defs: Flags.string({ summary: 'Directory that module steps are resolved against.', default: '.' }),
  }

  protected override servesEmbedded(): boolean {
    return true
  }

  async run() {
    const input = readJsonInput(this.flags.input)
    const engine = new Engine(await this.db())
    const { saga } = await engine.start(this.args.definition, input, { key: this.flags.key, version: this.flags.version })
    const live = !this.jsonEnabled() && process.stderr.isTTY
    const quiet = this.jsonEnabled()
    const started = new Map<string, number>()
    const abort = new AbortController()
    const onSignal = () => abort.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    if (!quiet) process.stderr.write(`saga ${saga.id} (${saga.definition}@${saga.version})\n`)
    const final = await engine
      .run(saga.id, {
        defsDir: this.flags.defs,
        signal: abort.signal,
        onCall: (work, _view, outcome) => {
          if (quiet) return
          const label = `${work.phase === 'action' ? '' : 'undo '}${work.step.name}`
          const key = `${work.index}:${work.phase}:${work.attempt}`
          if (!outcome) {
            started.set(key, Date.now())
            if (live) process.stderr.write(`  … ${label}${work.attempt > 1 ? ` (attempt ${work.attempt})` : ''}\r`)
            return
          }
          const took = formatDuration(Date.now() - (started.get(key) ?? Date.now()))
          const line =
            outcome.kind === 'success'
              ? `  ${color.green('✓')} ${label} ${color.gray(took)}`
              : `  ${color.red('✗')} ${label} ${color.gray(took)} ${outcome.kind}: ${outcome.error}`
          process.stderr.write(`${line}${live ? '\u001B[K' : ''}\n`)
        },
      })
      .finally(() => {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      })
    process.exitCode = EXIT_BY_STATUS[final.status] ?? ExitCode.unexpected
    if (!quiet) {
      this.log(`${status(final.status)} ${final.id}${final.reason ? ` — ${final.reason}` : ''}`)
      if (final.status === 'suspended') this.log(`an intervention is open: sagactl intervention list`)
      if (abort.signal.aborted && !EXIT_BY_STATUS[final.status]) this.log(`interrupted while ${final.status}; a worker will continue it`)
    }
    return final
  }
}
