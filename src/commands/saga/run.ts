import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import * as out from '../../cli/output.js'
import { terminalSafeLine } from '../../cli/terminal-text.js'
import { startTagFlag } from '../../cli/flags.js'
import { readJsonInput } from '../../cli/input.js'
import { color, status } from '../../cli/render.js'
import { formatDuration } from '../../engine/duration.js'
import { Engine } from '../../engine/engine.js'
import { tagsFromTexts } from '../../engine/search.js'
import { noticeMentions } from '../../engine/wait.js'
import { ExitCode } from '../../errors.js'
import { EXIT_BY_STATUS } from '../../cli/saga-exit.js'
import { getEvents } from '../../db/queries/sagas.js'
import type { Database } from '../../db/types.js'
import type { SagaEvent } from '../../engine/types.js'

/** The backstop for notifications that never come (a pooler, a dropped connection). */
const POLL_MS = 1000

/**
 * Prints a line per step event of the saga's journal as it is written, woken by the
 * notifications the saga's transitions send (and a poll in case one is lost); stop()
 * prints the rest.
 */
function followSteps(db: Database, sagaId: string, live: boolean): { stop: () => Promise<void> } {
  let last = 0
  let busy: Promise<void> = Promise.resolve()
  const started = new Map<string, number>()
  const print = (e: SagaEvent) => {
    if (!e.type.startsWith('step.') || !e.step) return
    const label = `${e.phase === 'compensation' ? 'undo ' : ''}${e.step}`
    const key = `${e.step}:${e.phase}:${e.attempt}`
    if (e.type === 'step.started') {
      started.set(key, e.at.getTime())
      if (live) void out.write(process.stderr, `${terminalSafeLine(`  … ${label}${(e.attempt ?? 1) > 1 ? ` (attempt ${e.attempt})` : ''}`)}\r`)
      return
    }
    const took = color.gray(formatDuration(e.at.getTime() - (started.get(key) ?? e.at.getTime())))
    const data = (e.data ?? {}) as { kind?: string; error?: string }
    const line =
      e.type === 'step.succeeded' ? `  ${color.green('✓')} ${label} ${took}`
      : e.type === 'step.failed' ? `  ${color.red('✗')} ${label} ${took} ${data.kind ?? 'failed'}: ${data.error ?? ''}`
      : `  ${color.yellow('↷')} ${label} ${e.type.slice(5)}`
    void out.write(process.stderr, `${terminalSafeLine(line, { keepColor: color.level > 0 })}${live ? '\u001B[K' : ''}\n`)
  }
  const pump = () =>
    (busy = busy.then(async () => {
      for (;;) {
        const batch = await getEvents(db, sagaId, { afterId: last, limit: 500 })
        for (const e of batch) {
          print(e)
          last = e.id
        }
        if (batch.length < 500) return
      }
    }).catch(() => undefined)) // progress is best effort; the final status is read by engine.run
  const timer = setInterval(() => void pump(), POLL_MS)
  const unlisten = db.listen((payload) => noticeMentions(payload, sagaId) && void pump()).catch(() => undefined)
  return {
    stop: async () => {
      clearInterval(timer)
      await (await unlisten)?.().catch(() => {})
      await pump()
    },
  }
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
    ...startTagFlag,
    defs: Flags.string({ summary: 'Directory that module steps are resolved against.', default: '.' }),
  }

  protected override servesEmbedded(): boolean {
    return true
  }

  async run() {
    const input = readJsonInput(this.flags.input)
    const db = await this.db()
    const engine = new Engine(db)
    const { saga } = await engine.start(this.args.definition, input, {
      key: this.flags.key,
      version: this.flags.version,
      tags: this.flags.tag ? tagsFromTexts(this.flags.tag) : undefined,
    })
    const quiet = this.jsonEnabled()
    const abort = new AbortController()
    const onSignal = () => abort.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    if (!quiet) void out.errLine(`saga ${saga.id} (${saga.definition}@${saga.version})`)
    // Progress comes from the journal, not from this process's calls: a worker serving the
    // same schema may take the saga, and its steps must show just the same.
    const progress = quiet ? undefined : followSteps(db, saga.id, process.stderr.isTTY)
    const final = await engine
      .run(saga.id, { defsDir: this.flags.defs, signal: abort.signal })
      .finally(async () => {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        await progress?.stop()
      })
    process.exitCode = EXIT_BY_STATUS[final.status] ?? ExitCode.unexpected
    if (!quiet) {
      this.log(`${status(final.status)} ${final.id}${final.reason ? ` — ${final.reason}` : ''}`)
      if (final.status === 'suspended') this.log(`an intervention is open: ${this.sagactlCommand('intervention list')}`)
      if (abort.signal.aborted && EXIT_BY_STATUS[final.status] === undefined) this.log(`interrupted while ${final.status}; a worker will continue it`)
    }
    return final
  }
}
