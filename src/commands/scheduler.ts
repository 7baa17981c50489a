import { Cron } from 'croner'
import { BaseCommand } from '../cli/base-command.js'
import * as out from '../cli/output.js'
import { durationFlag } from '../cli/flags.js'
import { onStop } from '../cli/stop-signals.js'
import { runCompensationPass, type PassSummary } from '../engine/batch.js'
import { passFlags, passOptions } from './compensate.js'

/** `2026-11-21T10:00:00Z pass: examined 12, compensated 3, retry later 1, suspended 0, errors 0 (230 ms)` */
export function passLine(at: Date, s: PassSummary): string {
  const parts = [`examined ${s.examined}`]
  if (s.timedOut > 0) parts.push(`timed out ${s.timedOut}`)
  if (s.reclaimed > 0) parts.push(`reclaimed ${s.reclaimed}`)
  parts.push(`compensated ${s.compensated}`, `retry later ${s.retryLater}`, `suspended ${s.suspended}`, `errors ${s.errors}`)
  return `${isoSeconds(at)} pass: ${parts.join(', ')} (${s.durationMs} ms)`
}

const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')

export default class Scheduler extends BaseCommand<typeof Scheduler> {
  static override summary = 'Run the compensation pass on a schedule, for hosts without cron.'
  static override description =
    'The same pass as `sagactl compensate --batch`, every --every (the first within a second of starting). A pass that ' +
    'outlasts the interval delays the next one: never two passes at once in one process. One line per pass on stdout ' +
    '(one JSON object per pass with --json). SIGTERM or Ctrl-C stops claiming, lets the calls in flight finish, and exits 0. ' +
    'Several schedulers, and workers, may run side by side.'
  static override examples = [
    '<%= config.bin %> scheduler',
    '<%= config.bin %> scheduler --every 30s --max-runtime 25s --defs /srv/sagas',
    '<%= config.bin %> scheduler --json | jq -c "select(.interventionsOpened > 0)"',
  ]
  static override flags = {
    every: durationFlag({ summary: 'Time between the starts of two passes (at least 1s).', default: 60_000, defaultHelp: async () => '1m' }),
    ...passFlags,
  }

  protected override servesEmbedded(): boolean {
    return true
  }

  protected override recoversEmbedded(): boolean {
    return true
  }

  async run(): Promise<undefined> {
    const db = await this.db({ max: Math.min(20, this.flags.concurrency + 4) })
    const options = passOptions(this.flags)
    const stop = new AbortController()
    const offStop = onStop(() => stop.abort())

    let inFlight: Promise<void> = Promise.resolve()
    const pass = async (): Promise<void> => {
      if (stop.signal.aborted) return
      const at = new Date()
      try {
        const summary = await runCompensationPass(db, {
          ...options,
          signal: stop.signal,
          onError: (message) => void out.errLine(`${isoSeconds(new Date())} pass error: ${message}`),
        })
        if (this.jsonEnabled()) void out.json({ at: at.toISOString(), ...summary }, { compact: true })
        else this.log(passLine(at, summary))
      } catch (err) {
        // A pass that fails (the database restarting) is reported; the next one tries again.
        void out.errLine(`${isoSeconds(at)} pass failed: ${(err as Error).message}`)
      }
    }
    // Croner ticks every second; `interval` spaces the runs, `protect` skips a tick while a pass runs.
    const job = new Cron('* * * * * *', { interval: Math.max(1, Math.round(this.flags.every / 1000)), protect: true }, () => {
      inFlight = pass()
      return inFlight
    })
    if (!this.jsonEnabled()) process.stderr.write(`scheduler: a pass every ${Math.max(1, Math.round(this.flags.every / 1000))}s on ${db.displayUrl} (Ctrl-C to stop)\n`)
    try {
      await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }))
    } finally {
      job.stop()
      await inFlight
      offStop()
    }
    return undefined
  }
}
