import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import * as out from '../cli/output.js'
import { durationFlag, periodFlag } from '../cli/flags.js'
import { healthThresholds } from '../cli/health-thresholds.js'
import { color, table } from '../cli/render.js'
import { checkHealth, DEFAULT_THRESHOLDS, type HealthThresholds } from '../db/queries/health.js'
import { ExitCode } from '../errors.js'

export default class Health extends BaseCommand<typeof Health> {
  static override summary = 'Check the saga system: active, long-running and stuck sagas, interventions, workers, alert rules.'
  static override description =
    'Exit 0 when every alert rule holds, 8 when one fails (each failing rule is one line on stderr, prefixed UNHEALTHY:). ' +
    'Rules: compensation success in the last hour at least --min-compensation-success (only once a compensation has ended ' +
    'in that hour); open interventions at most --max-open-interventions; no compensation running, or ended in the last ' +
    'hour, slower than --max-compensation-duration; a live worker whenever sagas are active; no participant with an open ' +
    '(or half-open) circuit; with a replica (--read-database-url), replica lag at most --max-replica-lag. With a replica the ' +
    'counts are read there and live workers on the primary. Thresholds come from the flags, else the health: section of ' +
    'sagactl.yaml (stuckAfter, longRunningAfter, minCompensationSuccess, maxOpenInterventions, maxCompensationDuration, ' +
    'maxReplicaLag), else the defaults shown.'
  static override examples = [
    '<%= config.bin %> health',
    '<%= config.bin %> health --json',
    '<%= config.bin %> health --max-open-interventions 0 --min-compensation-success 0.99',
    '<%= config.bin %> health || page-oncall "sagactl unhealthy"',
  ]
  static override flags = {
    ...BaseCommand.readFlags,
    'stuck-after': periodFlag({ summary: 'No progress for this long counts as stuck [default: 10m].' }),
    'long-running-after': periodFlag({ summary: 'Active for longer than this counts as long-running [default: 5m].' }),
    'min-compensation-success': Flags.custom<number>({
      summary: 'Alert when compensated / ended compensations in the last hour falls below this (0..1) [default: 0.9].',
      parse: async (input) => {
        const n = Number(input)
        if (input.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw Object.assign(new Error(`--min-compensation-success must be between 0 and 1, got "${input}"`), { oclif: { exit: 2 } })
        return n
      },
    })(),
    'max-open-interventions': Flags.integer({ summary: 'Alert when more interventions than this are open [default: 10].', min: 0 }),
    'max-compensation-duration': durationFlag({ summary: 'Alert when a compensation takes longer than this [default: 5m].' }),
    'max-replica-lag': durationFlag({ summary: 'With a replica: alert when it lags the primary by more than this [default: 30s].' }),
    'worker-liveness': durationFlag({ summary: 'A worker is live when its heartbeat is younger than this.', default: DEFAULT_THRESHOLDS.workerLivenessMs, defaultHelp: async () => '30s' }),
  }

  private thresholds(): HealthThresholds {
    const f = this.flags
    return healthThresholds(this.settings, {
      stuckAfterMs: f['stuck-after'],
      longRunningAfterMs: f['long-running-after'],
      minCompensationSuccess: f['min-compensation-success'],
      maxOpenInterventions: f['max-open-interventions'],
      maxCompensationDurationMs: f['max-compensation-duration'],
      workerLivenessMs: f['worker-liveness'],
      maxReplicaLagMs: f['max-replica-lag'],
    })
  }

  async run() {
    const thresholds = this.thresholds()
    const db = await this.readDb()
    const primary = await this.db()
    const report = await checkHealth(db, thresholds, db === primary ? undefined : primary)
    if (!this.jsonEnabled()) {
      const mark = (ok: boolean) => (ok ? color.green('ok') : color.red('FAIL'))
      this.log(
        table(
          ['check', 'value'],
          [
            ['active sagas (pending, running, compensating)', report.active],
            ['suspended sagas (waiting for a person)', report.suspended ? color.magenta(String(report.suspended)) : 0],
            ['long-running', report.longRunning ? color.yellow(String(report.longRunning)) : 0],
            ['stuck', report.stuck ? color.red(String(report.stuck)) : 0],
            ['open interventions', report.openInterventions],
            ['live workers', report.liveWorkers],
            ...(report.replica ? [['replica lag', `${Math.round(report.replica.seconds)}s${report.replica.paused ? ' (replay paused)' : ''}`]] : []),
          ],
        ),
      )
      this.log(table(['rule', 'state', 'detail'], report.rules.map((r) => [r.name, mark(r.ok), r.message])))
      if (report.stuck > 0) this.log(`stuck sagas: ${this.sagactlCommand(`saga list --stuck --stuck-after ${Math.round(thresholds.stuckAfterMs / 1000)}s`)}`)
      this.log(report.healthy ? color.green('healthy') : color.red('unhealthy'))
    }
    if (!report.healthy) {
      // Returned rather than thrown, so --json still prints the whole document.
      for (const r of report.rules.filter((x) => !x.ok)) void out.errLine(`UNHEALTHY: ${r.message}`)
      process.exitCode = ExitCode.unhealthy
    }
    return report
  }
}
