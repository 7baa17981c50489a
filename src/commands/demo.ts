import { existsSync } from 'node:fs'
import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import { durationFlag } from '../cli/flags.js'
import { shortIds, truncate } from '../cli/format.js'
import * as out from '../cli/output.js'
import { color, status, table } from '../cli/render.js'
import { onStop } from '../cli/stop-signals.js'
import { prepareConsoleEnvironment } from '../cli/terminal.js'
import { type DemoCounts, type DemoReport, OUTCOME_STATUSES, progressText, verdict } from '../demo/outcome.js'
import { settleTimeoutMs, startDemo, type DemoRun } from '../demo/run-demo.js'
import { demoEnv, startServices, type ServiceName } from '../demo/services/index.js'
import { formatDuration } from '../engine/duration.js'
import { currentOperator } from '../engine/operator.js'
import { ExitCode, UsageError } from '../errors.js'

export interface ServicesOnly {
  /** Base URL of each service. */
  services: Record<ServiceName, string>
  /** The variables examples/order-checkout.yaml refers to. */
  env: Record<string, string>
}

/** A bad value is a usage error: oclif maps an error carrying `oclif.exit` to one (exit 2). */
const usage = (message: string) => Object.assign(new Error(message), { oclif: { exit: 2 } })

const numberFlag = (min: number, max: number, what: string) =>
  Flags.custom<number>({
    parse: async (input) => {
      const n = Number(input)
      if (input.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw usage(`expected ${what}, got "${input}"`)
      return n
    },
  })
const fraction = numberFlag(0, 1, 'a number from 0 to 1')

/** After the console is closed or Ctrl-C, sagas in flight get this long to finish. */
const GRACE_MS = 10_000

export default class Demo extends BaseCommand<typeof Demo> {
  static override summary = 'The zero-setup tour: order-checkout sagas against real services, with the console.'
  static override description =
    'Runs the order-checkout saga (validate customer, reserve inventory, create order, process payment, update points, notify) against six ' +
    'services started on loopback, with a worker and the scheduler in this process, on the selected database (the embedded one unless told ' +
    'otherwise: nothing to install). Sagas start at --rate and the console opens; q stops everything.\n\n' +
    'With --no-tui --count n it runs n sagas, waits for each to complete, compensate or be suspended, and prints the outcomes, a sample of ' +
    'the sagas that did not complete, and a consistency report: for every compensated saga, stock, payment and points are back where they ' +
    'started; for every completed one, they moved exactly once. Exit 0 when consistent, 1 otherwise.\n\n' +
    '--failure-rate makes services refuse (sagas compensate): it applies to each of the four services that can refuse (customer, inventory, ' +
    'payment, points) on its own, so 0.2 compensates about 59 % of the sagas (1 - 0.8^4). --flaky-rate makes calls fail transiently (sagas retry), ' +
    '--compensation-failure-rate makes undoing fail (sagas are suspended and the intervention queue fills).\n\n' +
    '--services-only starts only the six services, prints the DEMO_*_URL variables examples/order-checkout.yaml needs (as export lines), ' +
    'and serves until Ctrl-C or SIGTERM: for running the example saga with your own worker (see sagactl init). It touches no database.'
  static override examples = [
    '<%= config.bin %> demo',
    '<%= config.bin %> demo --no-tui --count 20',
    '<%= config.bin %> demo --no-tui --count 100 --failure-rate 0.3 --rate 0 --json',
    '<%= config.bin %> demo --compensation-failure-rate 0.5 --failure-rate 0.3',
    '<%= config.bin %> demo --services-only --failure-rate 0 --port 4100',
  ]
  static override flags = {
    rate: numberFlag(0, 1000, 'sagas per second from 0 to 1000')({ summary: 'Sagas started per second (0: as fast as possible).', default: 5 }),
    count: Flags.integer({ char: 'n', summary: 'Start this many sagas, then stop starting [default: until stopped].', min: 1, max: 100_000 }),
    'failure-rate': fraction({
      summary: 'Chance that a service refuses an order (the saga compensates), per service: four of the six can refuse, so 0.2 compensates about 59 %.',
      default: 0.1,
    }),
    'flaky-rate': fraction({ summary: 'Chance that a call fails transiently or loses its response (retried).', default: 0.05 }),
    latency: durationFlag({ summary: 'Mean latency of a service call.', default: 20, defaultHelp: async () => '20ms' }),
    'compensation-failure-rate': fraction({ summary: 'Chance that undoing a step keeps failing (the saga is suspended for a person) [default: 0].', default: 0 }),
    tui: Flags.boolean({ summary: 'Open the console (not with --json); --no-tui prints the outcome instead.', default: true, allowNo: true }),
    concurrency: Flags.integer({ char: 'c', summary: 'Sagas the worker advances at once.', default: 16, min: 1, max: 256 }),
    seed: Flags.integer({ summary: 'Seed of the generated orders.', default: 1 }),
    'services-only': Flags.boolean({ summary: 'Start only the six services and print their DEMO_*_URL variables; no database, no sagas.', exclusive: ['count'] }),
    port: Flags.integer({ summary: 'With --services-only: bind the services on this port and the five after it [default: any free ports].', min: 1, max: 65_530, dependsOn: ['services-only'] }),
  }

  protected override servesEmbedded(): boolean {
    return true
  }

  async run(): Promise<DemoReport | undefined> {
    const { flags } = this
    if (flags['services-only']) return this.servicesOnly()
    const human = !this.jsonEnabled()
    const tui = flags.tui && human
    if (tui && !(process.stdout.isTTY && process.stdin.isTTY)) {
      throw new UsageError('the demo console needs a terminal', 'run: sagactl demo --no-tui --count 20')
    }
    const live = !tui && Boolean(process.stderr.isTTY)
    const note = (line: string) => {
      if (human) process.stderr.write(`${live ? '\r\u001B[K' : ''}${line}\n`)
    }

    const choice = this.databaseChoice()
    if (choice.source === 'embedded' && !existsSync(choice.url.slice('pglite:'.length))) {
      note('creating the embedded database in ./.sagactl/data (first run only: a few seconds)')
    }
    // The embedded database opens in its own thread: load the console meanwhile.
    if (tui) prepareConsoleEnvironment()
    const ui = tui ? import('../ui/run-monitor.js') : null
    ui?.catch(() => {})
    const db = await this.db({ ready: false, max: Math.min(40, flags.concurrency + 8) })
    const { run, abortedLeftovers } = await startDemo(db, {
      rate: flags.rate,
      count: flags.count,
      failureRate: flags['failure-rate'],
      flakyRate: flags['flaky-rate'],
      latencyMs: flags.latency,
      compensationFailureRate: flags['compensation-failure-rate'],
      concurrency: flags.concurrency,
      seed: flags.seed,
      operator: currentOperator(),
      log: tui ? undefined : (line) => note(color.gray(line)),
    })
    if (abortedLeftovers > 0) note(`aborted ${abortedLeftovers} saga(s) an earlier demo left running: its services are gone`)
    note(
      `demo ${run.runId} on ${db.displayUrl}: six services on 127.0.0.1, a worker (concurrency ${flags.concurrency}) and the scheduler in this process\n` +
        `starting ${flags.count === undefined ? '' : `${flags.count} `}sagas ${flags.rate > 0 ? `at ${flags.rate}/s` : 'as fast as possible'}${flags.count ? '' : tui ? ' until you quit the console' : ' until Ctrl-C'}` +
        ` (failure rate ${flags['failure-rate']}, flaky ${flags['flaky-rate']}, latency ${formatDuration(flags.latency)}, compensation failure ${flags['compensation-failure-rate']})`,
    )

    let settled: boolean
    try {
      settled = ui ? await this.watch(run, ui) : await this.wait(run, live)
    } finally {
      await run.stop()
    }
    const report = await run.report({ settled, waitedMs: Date.now() - run.startedAt })
    if (!report.consistency.ok) process.exitCode = ExitCode.unexpected
    if (human) this.print(report)
    return report
  }

  /**
   * Only the services, for the example saga run by the user's own worker: the variables
   * go to stdout as soon as the services listen (one JSON document with --json), then
   * they serve until a signal.
   */
  private async servicesOnly(): Promise<undefined> {
    const { flags } = this
    const services = await startServices({
      failureRate: flags['failure-rate'],
      flakyRate: flags['flaky-rate'],
      latency: flags.latency,
      compensationFailureRate: flags['compensation-failure-rate'],
      seed: flags.seed,
      ...(flags.port === undefined ? {} : { basePort: flags.port }),
    })
    const env = demoEnv(services.urls)
    const result: ServicesOnly = { services: services.urls, env }
    if (this.jsonEnabled()) await out.json(result)
    else {
      for (const [name, url] of Object.entries(env)) this.log(`export ${name}=${url}`)
      await out.errLine(
        `six demo services on 127.0.0.1 (failure rate ${flags['failure-rate']}, flaky ${flags['flaky-rate']}, latency ${formatDuration(flags.latency)}): ` +
          'export these where the worker runs; Ctrl-C stops them',
      )
    }
    await new Promise<void>((resolve) => {
      const off = onStop((why) => {
        off()
        if (!this.jsonEnabled()) void out.errLine(`stopping the demo services (${why})`)
        resolve()
      })
    })
    await services.close()
    // Written already: returning nothing keeps oclif from printing it again.
    return undefined
  }

  /**
   * The console, until the operator quits. Quitting is not a wait: the calls in flight end
   * (each a service call on loopback), the worker hands its sagas back, and the report
   * counts what is still moving as unfinished (the next demo aborts them).
   */
  private async watch(run: DemoRun, ui: Promise<typeof import('../ui/run-monitor.js')>): Promise<boolean> {
    const { runMonitor } = await ui
    await runMonitor({ db: run.db, actions: run.engine, operator: currentOperator(), stuckAfterMs: 30_000 })
    run.stopStarting()
    process.stderr.write('stopping: the calls in flight end, the worker hands its sagas back\n')
    return true
  }

  /**
   * Without the console: until every saga is settled (or the time is up). The first Ctrl-C
   * stops starting and waits briefly for the sagas in flight; a second stops waiting.
   */
  private async wait(run: DemoRun, live: boolean): Promise<boolean> {
    const first = new AbortController()
    const second = new AbortController()
    const onSignal = () => (first.signal.aborted ? second : first).abort()
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    const onProgress = live ? (c: DemoCounts) => process.stderr.write(`\r${progressText(c)}\u001B[K`) : undefined
    try {
      const count = this.flags.count
      const timeoutMs = count === undefined ? Number.POSITIVE_INFINITY : settleTimeoutMs(count, this.flags.rate)
      if (await run.settle({ timeoutMs, signal: first.signal, onProgress })) return true
      if (!first.signal.aborted) return false
      run.stopStarting()
      if (this.jsonEnabled()) {
        // stderr only carries the progress line with --json; keep it on its own line.
        if (live) process.stderr.write('\n')
      } else process.stderr.write(`${live ? '\n' : ''}stopping: finishing the sagas in flight (Ctrl-C again to stop now)\n`)
      await run.settle({ timeoutMs: GRACE_MS, signal: second.signal, onProgress })
      // Stopped on purpose: what is still moving is reported, not held against the run.
      return true
    } finally {
      if (live) process.stderr.write('\n')
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }

  private print(r: DemoReport): void {
    const ms = (v: number | null) => (v === null ? '' : formatDuration(v))
    this.log(`${color.bold(`demo ${r.run}`)}: ${r.sagas} saga(s) in ${formatDuration(r.elapsedMs)} on ${r.database} (seed ${r.seed})`)
    this.log('')
    const rows: Array<Array<string | number>> = OUTCOME_STATUSES.map((s) => [status(s), r.outcomes[s], ms(r.durationsByOutcome[s].p50), ms(r.durationsByOutcome[s].p95)])
    if (r.outcomes.unfinished > 0) rows.push([status('running'), r.outcomes.unfinished, '', ''])
    rows.push([color.bold('total'), r.sagas, ms(r.durationsMs.p50), ms(r.durationsMs.p95)])
    this.log(table(['outcome', 'sagas', 'p50', 'p95'], rows))

    if (r.samples.length > 0) {
      const ids = shortIds(r.samples.map((s) => s.id))
      this.log('')
      this.log(color.bold('Sagas that did not complete (a sample)'))
      this.log(table(['saga', 'outcome', 'step', 'reason'], r.samples.map((s) => [ids.get(s.id), status(s.status), s.step, truncate(s.reason, 70)])))
    }

    this.log('')
    this.log(color.bold('Consistency: what the services did, against what the engine says'))
    this.log(table(['check', 'result', 'detail'], r.consistency.checks.map((c) => [c.check, c.ok ? color.green('OK') : color.red('FAIL'), truncate(c.detail, 80)])))
    this.log('')
    for (const line of verdict(r)) this.log(line)
    this.log('')
    this.log(color.gray('Look around: sagactl saga list · sagactl saga show <id> · sagactl stats · sagactl monitor'))
  }
}
