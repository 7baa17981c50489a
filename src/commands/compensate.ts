import { resolve } from 'node:path'
import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import * as out from '../cli/output.js'
import { terminalSafeLine } from '../cli/terminal-text.js'
import { durationFlag, periodFlag } from '../cli/flags.js'
import { color, table } from '../cli/render.js'
import { runCompensationPass, type PassOptions, type PassProgress, type PassSummary } from '../engine/batch.js'
import { formatDuration } from '../engine/duration.js'
import { ExitCode, UsageError } from '../errors.js'

/** A pass works through its sagas in claims of --concurrency, so a large limit costs time, not memory. */
const MAX_PASS_LIMIT = 100_000

/** The pass flags, shared with `sagactl scheduler`. */
export const passFlags = {
  limit: Flags.integer({ summary: `At most this many sagas timed out, reclaimed, and compensated per pass (at most ${MAX_PASS_LIMIT.toLocaleString('en-US')}).`, default: 100, min: 1, max: MAX_PASS_LIMIT }),
  'max-runtime': durationFlag({ summary: 'Stop claiming after this long; calls in flight finish, the rest waits for the next pass.', default: 300_000, defaultHelp: async () => '5m' }),
  'stuck-after': periodFlag({ summary: 'Take back a lease that expired with no progress for this long.', default: 600_000, defaultHelp: async () => '10m' }),
  defs: Flags.string({ summary: 'Directory that module steps are resolved against.', default: '.' }),
  concurrency: Flags.integer({ summary: 'Compensations run at once.', default: 8, min: 1, max: 256 }),
}

export interface PassFlagValues {
  limit: number
  'max-runtime': number
  'stuck-after': number
  defs: string
  concurrency: number
}

export function passOptions(f: PassFlagValues): PassOptions {
  return {
    limit: f.limit,
    maxRuntimeMs: f['max-runtime'],
    stuckAfterMs: f['stuck-after'],
    defsDir: resolve(f.defs),
    concurrency: f.concurrency,
    env: process.env,
  }
}

export function summaryTable(s: PassSummary): string {
  const warn = (n: number, paint: (t: string) => string) => (n > 0 ? paint(String(n)) : String(n))
  return table(
    ['pass', 'result'],
    [
      ['examined', s.examined],
      ['timed out', s.timedOut],
      ['reclaimed', s.reclaimed],
      ['compensated', s.compensated],
      ['retry later', s.retryLater],
      ['suspended', warn(s.suspended, color.magenta)],
      ['interventions opened', warn(s.interventionsOpened, color.magenta)],
      ['errors', warn(s.errors, color.red)],
      ['duration', formatDuration(s.durationMs)],
    ],
  )
}

const PHASE_LABEL: Record<PassProgress['phase'], string> = { timeouts: 'timing out', reclaim: 'reclaiming', compensations: 'compensating' }

/** A one-line bar redrawn in place on stderr. */
export function progressLine(p: PassProgress, width = 24): string {
  const ratio = p.total > 0 ? Math.min(1, p.done / p.total) : 1
  const filled = Math.round(ratio * width)
  return `\r${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${p.done}/${p.total} ${PHASE_LABEL[p.phase]}\u001B[K`
}

export default class Compensate extends BaseCommand<typeof Compensate> {
  static override summary = 'One scheduler pass: time out overdue sagas, reclaim stuck ones, run due compensations.'
  static override description =
    'Meant for cron or a Kubernetes CronJob. A running saga past its deadline (and held by no live worker) starts ' +
    'compensating; a lease that expired with no progress for --stuck-after is taken back; due compensations run in this ' +
    'process until --limit or --max-runtime. Compensations whose retries are exhausted suspend their saga and open an ' +
    'intervention. Passes may overlap: sagas are claimed with SKIP LOCKED under leases, so none is run twice at once. ' +
    'Exit 0; 6 when the pass opened interventions; 10 when it hit errors (they are listed on stderr). To compensate one saga use `sagactl saga compensate <id>`.'
  static override examples = [
    '<%= config.bin %> compensate --batch',
    '<%= config.bin %> compensate --batch --limit 500 --max-runtime 50s --json',
    {
      description: 'A crontab line: a pass every minute, each one done before the next starts.',
      command: '* * * * * sagactl compensate --batch --max-runtime 50s --defs /srv/sagas >> /var/log/sagactl-compensate.log 2>&1',
    },
  ]
  static override flags = {
    batch: Flags.boolean({ summary: 'Run one pass over every saga (required: this command has no single-saga form).' }),
    ...passFlags,
  }

  protected override servesEmbedded(): boolean {
    return true
  }

  async run(): Promise<PassSummary> {
    if (!this.flags.batch) {
      throw new UsageError('compensate needs --batch', 'to compensate one saga use `sagactl saga compensate <id>`')
    }
    const db = await this.db({ max: Math.min(20, this.flags.concurrency + 4) })
    const bar = !this.jsonEnabled() && process.stderr.isTTY === true
    const summary = await runCompensationPass(db, {
      ...passOptions(this.flags),
      onProgress: bar ? (p) => process.stderr.write(progressLine(p)) : undefined,
      onError: (message) => void out.write(process.stderr, `${bar ? '\r\u001B[K' : ''}${terminalSafeLine(`pass error: ${message}`)}\n`),
    })
    if (bar) process.stderr.write('\r\u001B[K')
    // Errors outrank opened interventions: they mean the pass itself could not do its job.
    if (summary.errors > 0) process.exitCode = ExitCode.passErrors
    else if (summary.interventionsOpened > 0) process.exitCode = ExitCode.suspended
    if (!this.jsonEnabled()) {
      this.log(summaryTable(summary))
      if (summary.interventionsOpened > 0) this.log(`${summary.interventionsOpened} intervention(s) opened: sagactl intervention list`)
    }
    return summary
  }
}
