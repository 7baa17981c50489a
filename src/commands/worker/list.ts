import { BaseCommand } from '../../cli/base-command.js'
import { durationFlag, periodFlag } from '../../cli/flags.js'
import { age, shortIds } from '../../cli/format.js'
import { color, table } from '../../cli/render.js'
import { terminalSafeLine as one } from '../../cli/terminal-text.js'
import { DEFAULT_THRESHOLDS } from '../../db/queries/health.js'
import { listWorkers, type WorkerState } from '../../db/queries/workers.js'

const STATE_COLOR: Record<WorkerState, (s: string) => string> = { live: color.green, silent: color.red, stopped: color.gray }

export default class WorkerList extends BaseCommand<typeof WorkerList> {
  static override summary = 'List live and recently stopped workers, each with the sagas it holds.'
  static override description =
    'live: its heartbeat is younger than --worker-liveness; silent: not stopped but not heard from since (killed, hung or cut off: its leases expire and other workers take its sagas over); stopped: shut down. ' +
    'Silent and stopped workers are listed when heard from within --recent. ' +
    'In flight: the running, compensating or pending sagas whose lease the worker holds (the first 20 are named; --json has them with the time each lease ends). ' +
    'Workers are read from the primary: their heartbeats would look stale through a lagging replica.'
  static override examples = [
    '<%= config.bin %> worker list',
    '<%= config.bin %> worker list --recent 1d --json',
  ]
  static override flags = {
    recent: periodFlag({ summary: 'Also list workers stopped or silent within this period.', default: 3_600_000, defaultHelp: async () => '1h' }),
    'worker-liveness': durationFlag({ summary: 'A worker is live when its heartbeat is younger than this.', default: DEFAULT_THRESHOLDS.workerLivenessMs, defaultHelp: async () => '30s' }),
  }

  async run() {
    const db = await this.db()
    const now = new Date()
    const workers = await listWorkers(db, { livenessMs: this.flags['worker-liveness'], recentMs: this.flags.recent })
    const result = { items: workers }
    if (this.jsonEnabled()) return result
    if (workers.length === 0) {
      this.log('no workers live or seen recently')
      return result
    }
    const ids = shortIds(workers.flatMap((w) => w.sagas.map((s) => s.id)), 8)
    this.log(
      table(
        ['worker', 'state', 'host', 'pid', 'conc.', 'started', 'heartbeat', 'in flight', 'sagas'],
        workers.map((w) => [
          one(w.id),
          STATE_COLOR[w.state](w.state),
          one(w.host),
          w.pid,
          w.concurrency,
          age(w.startedAt, now),
          w.stoppedAt ? `stopped ${age(w.stoppedAt, now)}` : age(w.heartbeatAt, now),
          w.inFlight,
          w.sagas.map((s) => one(`${ids.get(s.id)} ${s.definition}${s.currentStep ? `/${s.currentStep}` : ''}`)).join('\n') + (w.inFlight > w.sagas.length ? `\n… and ${w.inFlight - w.sagas.length} more` : ''),
        ]),
      ),
    )
    const live = workers.filter((w) => w.state === 'live').length
    this.log(`${live} live, ${workers.length - live} silent or stopped`)
    return result
  }
}
