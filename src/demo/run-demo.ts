// `sagactl demo` without the CLI around it: the order-checkout services on loopback, the
// example definition, a worker and the scheduler pass in this process, and sagas started
// at a steady rate, all against the database it is given. The caller decides whether
// a console watches it or whether it runs to the end and prints the outcome.

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { applyDefinition } from '../db/definitions.js'
import { migrate } from '../db/migrator.js'
import { activeSagaIdsWithKeyPrefix, countByStatus, liveWorkerWithPrefix, openInterventionCount, operatorTouchedIds, sagasByIds } from '../db/queries/demo.js'
import type { Database } from '../db/types.js'
import { runCompensationPass } from '../engine/batch.js'
import { definitionChecksum, parseDefinition } from '../engine/definition.js'
import { Engine } from '../engine/engine.js'
import type { SagaStatus } from '../engine/types.js'
import { Worker } from '../engine/worker.js'
import { ConflictError, InvalidDefinitionError } from '../errors.js'
import { buildReport, type DemoCounts, type DemoReport, type DemoSaga } from './outcome.js'
import { demoEnv, makeOrderInput, startServices, type DemoServices, type SagaOutcome } from './services/index.js'

/** Ships with the package ("files" in package.json); the same path from src/demo and dist/demo. */
export const DEMO_DEFINITION = new URL('../../examples/order-checkout.yaml', import.meta.url)

export interface DemoOptions {
  /** Sagas started per second; 0 starts them as fast as the database takes them. */
  rate: number
  /** Stop starting after this many; without it, until stop(). */
  count?: number
  failureRate: number
  flakyRate: number
  latencyMs: number
  compensationFailureRate: number
  /** Sagas the worker advances at once. */
  concurrency: number
  seed: number
  /** Who the audit log records for the definition and for aborting an earlier run's leftovers. */
  operator: string
  definitionFile?: URL
  leaseMs?: number
  schedulerEveryMs?: number
  /** Problems the worker or the scheduler ran into; they carry on regardless. */
  log?: (line: string) => void
}

export interface StartedDemo {
  run: DemoRun
  /** Active sagas of earlier demo runs, aborted because their services are gone. */
  abortedLeftovers: number
  definitionVersion: number
}

const DEMO_KEY_PREFIX = 'demo-'

/**
 * Prepares the database (migrate, apply the definition, clear what an earlier demo left
 * running) and sets everything in motion. Whatever started is stopped again if a later
 * part fails.
 */
export async function startDemo(db: Database, opts: DemoOptions): Promise<StartedDemo> {
  await migrate(db)
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`
  await refuseConcurrentDemo(db)
  const engine = new Engine(db)
  const abortedLeftovers = await abortLeftovers(db, engine, opts.operator)
  const version = await applyExample(db, opts)

  const services = await startServices({
    failureRate: opts.failureRate,
    flakyRate: opts.flakyRate,
    latency: opts.latencyMs,
    compensationFailureRate: opts.compensationFailureRate,
    seed: opts.seed,
  })
  const run = new DemoRun(db, engine, services, runId, version, opts)
  try {
    await run.begin()
  } catch (err) {
    await run.stop().catch(() => {})
    throw err
  }
  return { run, abortedLeftovers, definitionVersion: version }
}

async function applyExample(db: Database, opts: DemoOptions): Promise<number> {
  const url = opts.definitionFile ?? DEMO_DEFINITION
  const file = fileURLToPath(url)
  const text = readFileSync(url, 'utf8')
  const parsed = parseDefinition(text, file)
  if (!parsed.definition) {
    const first = parsed.problems[0]
    throw new InvalidDefinitionError(`the demo definition ${file} is invalid: ${first ? `${first.line}:${first.col} ${first.message}` : 'unreadable'}`)
  }
  const { definition } = await applyDefinition(db, { spec: parsed.definition, source: text, checksum: definitionChecksum(parsed.source), operator: opts.operator, file })
  return definition.version
}

/** The demo's worker would run another demo's sagas against the wrong services. */
async function refuseConcurrentDemo(db: Database): Promise<void> {
  const other = await liveWorkerWithPrefix(db, DEMO_KEY_PREFIX)
  if (other) {
    throw new ConflictError(`another sagactl demo is running on this database (worker ${other})`, 'stop it first (a killed one stops counting after 15 s), or give this one its own schema: --schema demo2')
  }
}

/**
 * An earlier demo's services lived in its process: sagas it left half-way can neither
 * finish nor be undone against this run's services, so they are aborted (audited).
 */
async function abortLeftovers(db: Database, engine: Engine, operator: string): Promise<number> {
  let aborted = 0
  for (const id of await activeSagaIdsWithKeyPrefix(db, 'order-checkout', DEMO_KEY_PREFIX)) {
    try {
      await engine.abort(id, { operator, reason: 'left running by an earlier sagactl demo, whose services are gone' })
      aborted++
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err
    }
  }
  return aborted
}

export class DemoRun {
  readonly startedAt = Date.now()
  private readonly ids: string[] = []
  private readonly stopping = new AbortController()
  private readonly worker: Worker
  private readonly env: NodeJS.ProcessEnv
  private starter: Promise<void> = Promise.resolve()
  private scheduler: Promise<void> = Promise.resolve()
  private startError: Error | null = null
  private stopped: Promise<void> | null = null

  constructor(
    readonly db: Database,
    readonly engine: Engine,
    readonly services: DemoServices,
    readonly runId: string,
    private readonly version: number,
    private readonly opts: DemoOptions,
  ) {
    // The services' URLs reach the worker only through its env: the process's own is left alone.
    this.env = { ...process.env, ...demoEnv(services.urls) }
    this.worker = new Worker(db, {
      id: `${DEMO_KEY_PREFIX}${runId}:${hostname()}:${process.pid}`,
      concurrency: opts.concurrency,
      leaseMs: this.leaseMs,
      pollMs: 100,
      defsDir: process.cwd(),
      env: this.env,
      log: opts.log,
    })
  }

  private get leaseMs(): number {
    return this.opts.leaseMs ?? 5_000
  }

  /** Ids of the sagas started so far, oldest first. */
  get sagaIds(): readonly string[] {
    return this.ids
  }

  async begin(): Promise<void> {
    await this.worker.start()
    this.scheduler = this.schedule()
    this.starter = this.startSagas()
  }

  /** Stops starting new sagas; the ones started carry on. */
  stopStarting(): void {
    this.stopping.abort()
  }

  private async startSagas(): Promise<void> {
    const { rate, count, seed } = this.opts
    const t0 = Date.now()
    for (let i = 1; count === undefined || i <= count; i++) {
      if (rate > 0) await sleep(t0 + ((i - 1) * 1000) / rate - Date.now(), this.stopping.signal)
      if (this.stopping.signal.aborted) return
      try {
        const { saga } = await this.engine.start('order-checkout', makeOrderInput(i, seed), { key: `${DEMO_KEY_PREFIX}${this.runId}-${i}`, version: this.version })
        this.ids.push(saga.id)
      } catch (err) {
        this.startError = err as Error
        return
      }
    }
  }

  /** The scheduler pass every few seconds, one at a time: deadlines, stuck leases, due compensations. */
  private async schedule(): Promise<void> {
    const every = this.opts.schedulerEveryMs ?? 2_000
    while (!this.stopping.signal.aborted) {
      try {
        await runCompensationPass(this.db, {
          limit: 100,
          maxRuntimeMs: 10_000,
          stuckAfterMs: 3 * this.leaseMs,
          defsDir: process.cwd(),
          env: this.env,
          concurrency: 4,
          leaseMs: this.leaseMs,
          signal: this.stopping.signal,
        })
      } catch (err) {
        this.opts.log?.(`scheduler pass failed: ${(err as Error).message}`)
      }
      await sleep(every, this.stopping.signal)
    }
  }

  async counts(): Promise<DemoCounts> {
    const by = await countByStatus(this.db, this.ids)
    const n = (s: SagaStatus) => by.get(s) ?? 0
    return {
      started: this.ids.length,
      target: this.opts.count ?? null,
      active: n('pending') + n('running') + n('compensating'),
      completed: n('completed'),
      compensated: n('compensated'),
      suspended: n('suspended'),
      failed: n('failed'),
    }
  }

  /**
   * Waits until every saga to be started has been, and each is finished or suspended.
   * False when the time runs out or the signal fires first.
   */
  async settle(opts: { timeoutMs: number; signal?: AbortSignal; everyMs?: number; onProgress?: (c: DemoCounts) => void }): Promise<boolean> {
    const until = Date.now() + opts.timeoutMs
    for (;;) {
      if (this.startError) throw this.startError
      const c = await this.counts()
      opts.onProgress?.(c)
      const allStarted = this.opts.count === undefined ? this.stopping.signal.aborted : c.started >= this.opts.count
      if (allStarted && c.active === 0) return true
      if (Date.now() >= until || opts.signal?.aborted) return false
      await sleep(opts.everyMs ?? 250, opts.signal)
    }
  }

  /** Stops starting, lets the scheduler's pass and the worker's calls in flight finish, then closes the services. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopStarting()
      await this.starter
      await this.scheduler
      await this.worker.stop()
      await this.services.close()
    })()
    return this.stopped
  }

  /** The outcome of every saga started, judged against what the services did. Call after stop(). */
  async report(opts: { settled: boolean; waitedMs?: number }): Promise<DemoReport> {
    const sagas: Array<DemoSaga & { input: unknown }> = (await sagasByIds(this.db, this.ids)).map((s) => ({
      id: s.id,
      status: s.status,
      step: s.currentStep,
      reason: s.reason,
      input: s.input,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
      finishedAt: s.finishedAt,
    }))
    const touched = await operatorTouchedIds(this.db, this.ids)
    const outcomes: SagaOutcome[] = sagas.map((s) => ({ sagaId: s.id, status: s.status, input: s.input as Record<string, unknown>, operatorActions: touched.get(s.id) }))
    return buildReport({
      run: this.runId,
      seed: this.opts.seed,
      database: this.db.displayUrl,
      sagas,
      consistency: this.services.checkConsistency(outcomes),
      openInterventions: await openInterventionCount(this.db, this.ids),
      elapsedMs: Date.now() - this.startedAt,
      settled: opts.settled,
      waitedMs: opts.waitedMs,
    })
  }
}

/** How long a run of `count` sagas may take to settle once they are all started. */
export function settleTimeoutMs(count: number, rate: number): number {
  const starting = rate > 0 ? (count * 1000) / rate : 0
  return Math.round(starting + 60_000 + 500 * count)
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
