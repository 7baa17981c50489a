import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import { durationFlag, periodFlag } from '../cli/flags.js'
import { prepareConsoleEnvironment } from '../cli/terminal.js'
import { Engine } from '../engine/engine.js'
import { currentOperator } from '../engine/operator.js'
import { consoleData } from '../ui/replica-data.js'
import { monitorSnapshot, type MonitorSnapshot } from '../ui/snapshot.js'

/** Rows a view gets in the --json snapshot. */
const SNAPSHOT_ROWS = 100

export default class Monitor extends BaseCommand<typeof Monitor> {
  static override summary = 'Open the terminal console: live sagas, stuck ones, the intervention queue.'
  static override description =
    'Views (1-6 or tab): live sagas, stuck, interventions, definitions, failure groups, participants. Enter opens a saga; r retry, c compensate, k skip, a abort, v resolve, each confirmed with a reason; ? lists the keys; q quits. Live through LISTEN/NOTIFY, polling as the fallback. Needs a terminal; ' +
    `--json instead prints what the screen would show, once: the header and each view's rows (up to ${SNAPSHOT_ROWS} a view, live as the console opens: the active sagas), and exits.`
  static override examples = ['<%= config.bin %> monitor', '<%= config.bin %> monitor --stuck-after 5m --operator ana', '<%= config.bin %> monitor --json | jq .header.active']
  static override flags = {
    ...BaseCommand.readFlags,
    ...BaseCommand.listenFlags,
    operator: Flags.string({ summary: 'Who the audit log records for actions taken here [default: the OS user].' }),
    refresh: durationFlag({ summary: 'Polling interval (the fallback to notifications).', default: 2_000, defaultHelp: async () => '2s' }),
    'stuck-after': periodFlag({ summary: 'No progress for this long counts as stuck.', default: 600_000, defaultHelp: async () => '10m' }),
  }

  /** The console stays open and serves the embedded database; a --json snapshot is a short command. */
  protected override servesEmbedded(): boolean {
    return !this.jsonEnabled()
  }

  async run(): Promise<MonitorSnapshot | undefined> {
    const db = await this.db()
    const readDb = await this.readDb()
    if (this.jsonEnabled()) {
      const data = consoleData(db, readDb === db ? undefined : readDb, { raw: true })
      return monitorSnapshot(data, { stuckAfterMs: this.flags['stuck-after'], limit: SNAPSHOT_ROWS })
    }
    prepareConsoleEnvironment()
    const { runMonitor } = await import('../ui/run-monitor.js')
    await runMonitor({
      db,
      readDb: readDb === db ? undefined : readDb,
      actions: new Engine(db),
      operator: currentOperator(this.flags.operator),
      refreshMs: this.flags.refresh,
      stuckAfterMs: this.flags['stuck-after'],
    })
  }
}
