import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import { periodFlag } from '../cli/flags.js'
import { duration, truncate } from '../cli/format.js'
import { color, status, table } from '../cli/render.js'
import { sagaStats } from '../db/queries/stats.js'
import { formatDuration } from '../engine/duration.js'
import { SAGA_STATUSES } from '../engine/types.js'

/** The period as an operator typed it: 24h, 7d, 90m. */
function period(ms: number): string {
  if (ms % 3_600_000 === 0 && ms <= 48 * 3_600_000) return `${ms / 3_600_000}h`
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`
  if (ms % 60_000 === 0 && ms < 3_600_000) return `${ms / 60_000}m`
  return formatDuration(ms)
}

const rate = (v: number | null) => (v === null ? 'n/a' : `${Number((v * 100).toFixed(1))}%`)

export default class Stats extends BaseCommand<typeof Stats> {
  static override summary = 'Saga statistics for a period: counts, success and compensation rates, durations, failure reasons.'
  static override description =
    'Over the sagas created in the period. Success rate = completed / finished; compensation rate = compensated / finished ' +
    '(finished = completed + compensated + failed). Durations are from creation to finish. Failure reasons are grouped with ' +
    'ids and numbers stripped, so "HTTP 500 after 3 attempts" and "HTTP 500 after 5 attempts" count as one. Step failures ' +
    'count steps that failed for good and the retries every step needed.'
  static override examples = [
    '<%= config.bin %> stats',
    '<%= config.bin %> stats --since 1h --def order-checkout',
    '<%= config.bin %> stats --since 7d --json',
  ]
  static override flags = {
    ...BaseCommand.readFlags,
    since: periodFlag({ summary: 'The period: sagas created in the last 1h, 24h, 7d, ...', default: 86_400_000, defaultHelp: async () => '24h' }),
    def: Flags.string({ summary: 'Only sagas of this definition.' }),
  }

  async run() {
    const db = await this.readDb()
    const s = await sagaStats(db, { sinceMs: this.flags.since, definition: this.flags.def })
    const out = {
      since: s.since.toISOString(),
      definition: s.definition,
      counts: s.counts,
      total: s.total,
      successRate: s.successRate,
      compensationRate: s.compensationRate,
      durationMs: s.durationMs,
      topFailures: s.topFailures,
      stepFailures: s.stepFailures,
    }
    if (!this.jsonEnabled()) {
      this.log(`${s.total} saga(s) created in the last ${period(this.flags.since)} (since ${out.since})${s.definition ? `, definition ${s.definition}` : ''}`)
      this.log(table(['status', 'count'], SAGA_STATUSES.map((st) => [status(st), s.counts[st]])))
      this.log(`success ${rate(s.successRate)}   compensation ${rate(s.compensationRate)}`)
      const d = s.durationMs
      this.log(`duration p50 ${duration(d.p50) || 'n/a'}   p95 ${duration(d.p95) || 'n/a'}   p99 ${duration(d.p99) || 'n/a'}`)
      if (s.topFailures.length > 0) {
        this.log('')
        this.log(table(['failure reason', 'count'], s.topFailures.map((f) => [color.red(truncate(f.reason, 90)), f.count])))
      }
      if (s.stepFailures.length > 0) {
        this.log('')
        this.log(table(['definition', 'step', 'phase', 'failed', 'retries'], s.stepFailures.map((f) => [f.definition, f.step, f.phase, f.failures, f.retries])))
      }
    }
    return out
  }
}
