import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  claimCompensations,
  countDueCompensations,
  findOverdue,
  lockOverdue,
  nextCompensationDue,
  reclaimStuck,
} from '../db/batch-queries.js'
import { SagaStore } from '../db/saga-store.js'
import type { Database } from '../db/types.js'
import type { StoredDefinition } from '../db/definitions.js'
import { DefinitionCache } from './definitions.js'
import { keepLeases } from './heartbeat.js'
import { ParticipantGate } from './participants/gate.js'
import { startCompensation } from './planner.js'
import { runSaga, viewOf, type RunnerContext } from './runner.js'
import type { Transition } from './transition.js'
import type { Saga, SagaStatus, StepRecord } from './types.js'
import { TransitionWriter } from './writer.js'
import { ExitCode, SagactlError } from '../errors.js'

/**
 * One scheduler pass (SPEC.md section 5, `compensate --batch`): time out overdue sagas,
 * take back leases abandoned long ago, and run due compensations in this process until
 * the limit or the time budget is reached. Every saga is taken with SKIP LOCKED under a
 * lease or a row lock, so passes may overlap each other and any number of workers.
 */

export interface PassOptions {
  /** At most this many sagas timed out, reclaimed, and claimed for compensation (each). */
  limit: number
  /** Stop claiming once the pass has run this long; calls in flight still finish. */
  maxRuntimeMs: number
  /** A lease expired this long without progress counts as stuck. */
  stuckAfterMs: number
  /** Where module steps are resolved. */
  defsDir: string
  env?: NodeJS.ProcessEnv
  /** Compensations run at once. */
  concurrency?: number
  leaseMs?: number
  /** Stop claiming (a signal to the scheduler); calls in flight still finish. */
  signal?: AbortSignal
  onProgress?: (p: PassProgress) => void
  /** Each error counted in the summary, as one line. */
  onError?: (message: string) => void
}

export interface PassProgress {
  phase: 'timeouts' | 'reclaim' | 'compensations'
  done: number
  total: number
}

export interface PassSummary {
  /** Distinct sagas looked at by any part of the pass. */
  examined: number
  timedOut: number
  reclaimed: number
  compensated: number
  /** Still compensating at the end of the pass: waiting for a retry, or handed back when the budget ran out. */
  retryLater: number
  /** Compensations exhausted: suspended, each with an intervention opened. */
  suspended: number
  errors: number
  durationMs: number
  interventionsOpened: number
}

/** How long a pass with nothing else to do waits for a compensation retry about to fall due. */
const RETRY_HORIZON_MS = 1_000
const TIMEOUT_BATCH = 100
const SCHEDULER_OWNER = 'scheduler'

export function passOwnerId(): string {
  return `scheduler:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
}

export async function runCompensationPass(db: Database, opts: PassOptions): Promise<PassSummary> {
  return new Pass(db, opts).run()
}

class Pass {
  private readonly started = Date.now()
  private readonly store: SagaStore
  private readonly defs: DefinitionCache
  private readonly examined = new Set<string>()
  /** The last status this pass wrote for each saga it changed. */
  private readonly outcome = new Map<string, SagaStatus>()
  private timedOut = 0
  private readonly reclaimed = new Set<string>()
  private errors = 0
  private interventionsOpened = 0
  /** A database-level failure (a read-only standby, an unreachable server) ends the pass as an error. */
  private fatal: SagactlError | undefined

  constructor(
    private readonly db: Database,
    private readonly opts: PassOptions,
  ) {
    this.store = new SagaStore(db)
    this.defs = new DefinitionCache(db)
  }

  async run(): Promise<PassSummary> {
    for (const phase of [() => this.timeOutOverdue(), () => this.reclaimStuck(), () => this.runCompensations()]) {
      await phase()
      if (this.fatal) throw this.fatal
    }
    const count = (s: SagaStatus) => [...this.outcome.values()].filter((v) => v === s).length
    return {
      examined: this.examined.size,
      timedOut: this.timedOut,
      reclaimed: this.reclaimed.size,
      compensated: count('compensated'),
      retryLater: count('compensating'),
      suspended: count('suspended'),
      errors: this.errors,
      durationMs: Date.now() - this.started,
      interventionsOpened: this.interventionsOpened,
    }
  }

  private budgetSpent(): boolean {
    return Date.now() - this.started >= this.opts.maxRuntimeMs || (this.opts.signal?.aborted ?? false) || this.fatal !== undefined
  }

  private fail(what: string, err: unknown): void {
    if (err instanceof SagactlError && err.exitCode === ExitCode.database) this.fatal ??= err
    this.errors++
    this.opts.onError?.(`${what}: ${err instanceof Error ? err.message : String(err)}`)
  }

  private record(t: Transition): void {
    this.outcome.set(t.sagaId, t.saga.status)
    if (t.intervention?.open) this.interventionsOpened++
  }

  /**
   * Definitions are loaded before the transaction: the embedded database runs one
   * statement at a time, so a read outside the transaction would wait for it forever.
   */
  private async timeOutOverdue(): Promise<void> {
    const candidates = await findOverdue(this.db, this.opts.limit)
    for (const c of candidates) this.examined.add(c.id)
    this.opts.onProgress?.({ phase: 'timeouts', done: 0, total: candidates.length })
    let done = 0
    for (let i = 0; i < candidates.length; i += TIMEOUT_BATCH) {
      const chunk = candidates.slice(i, i + TIMEOUT_BATCH)
      const defs = new Map<string, StoredDefinition | Error>()
      for (const c of chunk) {
        const key = `${c.definition}@${c.version}`
        if (!defs.has(key)) defs.set(key, await this.defs.get(c.definition, c.version).catch((err: Error) => err))
      }
      try {
        const applied = await this.db.transaction(async (tx) => {
          const sagas = await lockOverdue(tx, chunk.map((c) => c.id))
          const steps = await this.store.steps(sagas.map((s) => s.id), tx)
          const transitions: Transition[] = []
          for (const saga of sagas) {
            const def = defs.get(`${saga.definition}@${saga.version}`)
            if (!def || def instanceof Error) {
              this.fail(`saga ${saga.id}: cannot time out`, def)
              continue
            }
            const { view } = viewOf(saga, steps.filter((s) => s.sagaId === saga.id))
            const t = startCompensation(def.spec, view, 'timeout', { leased: false })
            t.expectedRevision = saga.revision
            const first = t.events[0]
            if (first) first.data = { ...first.data, by: SCHEDULER_OWNER }
            transitions.push(t)
          }
          const ids = await this.store.apply(transitions, SCHEDULER_OWNER, tx)
          return transitions.filter((t) => ids.has(t.sagaId))
        })
        for (const t of applied) this.record(t)
        this.timedOut += applied.length
      } catch (err) {
        this.fail('timing out overdue sagas', err)
      }
      done += chunk.length
      this.opts.onProgress?.({ phase: 'timeouts', done, total: candidates.length })
    }
  }

  private async reclaimStuck(): Promise<void> {
    try {
      const found = await reclaimStuck(this.db, this.opts.stuckAfterMs, this.opts.limit)
      for (const r of found) {
        this.examined.add(r.id)
        this.reclaimed.add(r.id)
      }
      this.opts.onProgress?.({ phase: 'reclaim', done: found.length, total: found.length })
    } catch (err) {
      this.fail('reclaiming stuck sagas', err)
    }
  }

  private async runCompensations(): Promise<void> {
    const owner = passOwnerId()
    const concurrency = Math.max(1, this.opts.concurrency ?? 8)
    const leaseMs = this.opts.leaseMs ?? 30_000
    const writer = new TransitionWriter(this.store, owner, { concurrency })
    const gate = new ParticipantGate(this.db, { owner })
    const ctx: RunnerContext = {
      gate,
      store: this.store,
      writer,
      defsDir: this.opts.defsDir,
      env: this.opts.env,
      draining: () => this.budgetSpent(),
      onTransition: (t) => this.record(t),
    }
    const inflight = new Map<string, Promise<void>>()
    const stopHeartbeat = keepLeases(this.store, owner, () => [...inflight.keys()], leaseMs)

    let claims = 0
    let finished = 0
    let total = await countDueCompensations(this.db, this.opts.limit).catch(() => 0)
    const progress = () => this.opts.onProgress?.({ phase: 'compensations', done: finished, total: Math.max(total, finished) })
    progress()

    const runOne = async (saga: Saga, steps: StepRecord[], reclaimedFrom: string | null): Promise<void> => {
      try {
        const def = await this.defs.get(saga.definition, saga.version)
        const end = await runSaga(ctx, def.spec, saga, steps, reclaimedFrom)
        if (end === 'released') this.outcome.set(saga.id, 'compensating')
      } catch (err) {
        // Its lease is kept until the pass ends, so the pass does not claim it again.
        this.fail(`saga ${saga.id}`, err)
      } finally {
        inflight.delete(saga.id)
        finished++
        progress()
      }
    }

    try {
      while (claims < this.opts.limit && !this.budgetSpent()) {
        const free = concurrency - inflight.size
        if (free <= 0) {
          await Promise.race(inflight.values())
          continue
        }
        let claimed: Awaited<ReturnType<typeof claimCompensations>>
        try {
          claimed = await claimCompensations(this.db, owner, leaseMs, Math.min(free, this.opts.limit - claims))
        } catch (err) {
          this.fail('claiming compensations', err)
          break
        }
        if (claimed.length === 0) {
          if (inflight.size > 0) {
            await Promise.race(inflight.values())
            continue
          }
          if (!(await this.waitForRetry())) break
          continue
        }
        claims += claimed.length
        total = Math.max(total, claims)
        const steps = await this.store.steps(claimed.map((c) => c.saga.id)).catch((err: Error) => err)
        if (steps instanceof Error) {
          this.fail('reading steps', steps)
          await this.store.release(owner, claimed.map((c) => c.saga.id)).catch(() => {})
          break
        }
        for (const c of claimed) {
          this.examined.add(c.saga.id)
          if (c.reclaimedFrom) this.reclaimed.add(c.saga.id)
          inflight.set(c.saga.id, runOne(c.saga, steps.filter((s) => s.sagaId === c.saga.id), c.reclaimedFrom))
        }
      }
      await Promise.allSettled(inflight.values())
    } finally {
      stopHeartbeat()
      await gate.close()
      // Runs that failed still hold a lease: hand them to the next pass or worker.
      await this.store.releaseAll(owner).catch(() => {})
    }
  }

  /** Sleeps until a compensation retry falls due, when that is soon and within the budget; false when there is none. */
  private async waitForRetry(): Promise<boolean> {
    const due = await nextCompensationDue(this.db).catch(() => null)
    if (!due) return false
    const wait = due.getTime() - Date.now()
    const left = this.opts.maxRuntimeMs - (Date.now() - this.started)
    if (wait > RETRY_HORIZON_MS || wait >= left) return false
    await sleep(Math.max(5, wait), undefined, { signal: this.opts.signal }).catch(() => {})
    return !this.budgetSpent()
  }
}
