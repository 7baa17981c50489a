import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { SagaStore, type StartableDefinitions } from '../db/saga-store.js'
import { errorLine } from '../errors.js'
import { LISTENER_HELLO, workChannelFor, type Database } from '../db/types.js'
import { DefinitionCache } from './definitions.js'
import { keepLeases } from './heartbeat.js'
import { ParticipantGate } from './participants/gate.js'
import { participantFor } from './participants/names.js'
import { runSaga, type RunEnd, type RunnerContext } from './runner.js'
import type { Transition } from './transition.js'
import type { SagaView } from './planner.js'
import type { Saga, StepRecord } from './types.js'
import { TransitionWriter } from './writer.js'

/** How often a worker looks for listeners on the events channel. */
const LISTENER_CHECK_MS = 1_000

export interface WorkerOptions {
  /** Sagas advanced at once. */
  concurrency?: number
  /** How long a claim lasts without a heartbeat; a killed worker's sagas are taken over after it. */
  leaseMs?: number
  /** Sleep between empty claims when no notification arrives. */
  pollMs?: number
  defsDir?: string
  env?: NodeJS.ProcessEnv
  id?: string
  version?: string
  log?: (line: string) => void
  onTransition?: (t: Transition, saga: SagaView) => void
}

export interface WorkerStats {
  claimed: number
  rested: number
  released: number
  lost: number
  errors: number
}

/**
 * A long-running executor: claims due sagas in batches with SKIP LOCKED, holds each
 * under a lease renewed by heartbeat, runs up to `concurrency` at once, and on stop
 * finishes the calls in flight and hands its sagas back.
 */
export class Worker {
  readonly id: string
  readonly stats: WorkerStats = { claimed: 0, rested: 0, released: 0, lost: 0, errors: 0 }
  private readonly store: SagaStore
  private readonly defs: DefinitionCache
  private readonly writer: TransitionWriter
  private readonly gate: ParticipantGate
  private readonly concurrency: number
  private readonly leaseMs: number
  private readonly pollMs: number
  private readonly minBatch: number
  private readonly inflight = new Map<string, Promise<void>>()
  private stopping = false
  private wake: (() => void) | null = null
  /** A poke that came while the loop was busy (claiming, reading): the next sleep returns at once. */
  private poked = false
  private loopDone: Promise<void> | null = null
  private stopHeartbeat: (() => void) | null = null
  private listenerCheck: NodeJS.Timeout | null = null
  /** Someone reads the events channel (or this cannot be told): transitions notify it. */
  private listened = true
  private unlisten: (() => Promise<void>) | null = null
  private readonly log: (line: string) => void

  constructor(
    private readonly db: Database,
    private readonly opts: WorkerOptions = {},
  ) {
    this.id = opts.id ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
    this.store = new SagaStore(db)
    this.defs = new DefinitionCache(db)
    this.concurrency = Math.max(1, opts.concurrency ?? 8)
    this.writer = new TransitionWriter(this.store, this.id, { concurrency: this.concurrency })
    this.gate = new ParticipantGate(db, { owner: this.id })
    this.leaseMs = opts.leaseMs ?? 30_000
    this.pollMs = opts.pollMs ?? 1_000
    this.minBatch = Math.max(1, Math.floor(this.concurrency / 4))
    this.log = opts.log ?? (() => {})
  }

  get active(): number {
    return this.inflight.size
  }

  async start(): Promise<void> {
    await this.db.query(
      `INSERT INTO {{schema}}.workers (id, host, pid, concurrency, sagactl_version) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL`,
      [this.id, hostname(), process.pid, this.concurrency, this.opts.version ?? null],
    )
    try {
      // New sagas and sagas handed back to run now are announced on the work channel.
      this.unlisten = await this.db.listen((payload) => {
        // A console or follower that begins listening says so: notify from the next transition on.
        if (payload === LISTENER_HELLO) this.listened = true
        this.poke()
      }, workChannelFor(this.db.schema))
    } catch (err) {
      this.log(`live wake-ups unavailable (${errorLine(err)}): polling every ${this.pollMs} ms`)
    }
    if (this.db.kind === 'pg') {
      this.store.notifyEvents = () => this.listened
      await this.checkListeners()
      this.listenerCheck = setInterval(() => void this.checkListeners(), LISTENER_CHECK_MS)
      this.listenerCheck.unref()
    }
    this.stopHeartbeat = keepLeases(
      this.store,
      this.id,
      () => [...this.inflight.keys()],
      this.leaseMs,
      (err) => this.log(`heartbeat failed: ${(err as Error).message}`),
      () => this.db.query(`UPDATE {{schema}}.workers SET heartbeat_at = now() WHERE id = $1`, [this.id]),
    )
    this.loopDone = this.loop()
  }

  /** Stops claiming, lets in-flight calls finish and write their outcome, then releases every lease. */
  async stop(): Promise<void> {
    this.stopping = true
    this.poke()
    await this.loopDone
    await Promise.allSettled(this.inflight.values())
    await this.gate.close()
    this.stopHeartbeat?.()
    if (this.listenerCheck) clearInterval(this.listenerCheck)
    await this.unlisten?.().catch(() => {})
    await this.store.releaseAll(this.id).catch(() => {})
    await this.db.query(`UPDATE {{schema}}.workers SET stopped_at = now() WHERE id = $1`, [this.id]).catch(() => {})
  }

  private poke(): void {
    const w = this.wake
    this.wake = null
    if (w) w()
    else this.poked = true
  }

  private sleep(ms: number): Promise<void> {
    if (this.poked) {
      this.poked = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null
        resolve()
      }, ms)
      this.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const free = this.concurrency - this.inflight.size
      // Refill in batches: one claim (one commit) for several free slots, not one per finished saga.
      if (free <= 0 || (free < this.minBatch && this.inflight.size > 0)) {
        await this.sleep(this.pollMs)
        continue
      }
      let claimed: Awaited<ReturnType<SagaStore['claim']>> = []
      try {
        claimed = await this.store.claimStarting(this.id, this.leaseMs, free, this.startable())
      } catch (err) {
        this.stats.errors++
        this.log(`claim failed: ${(err as Error).message}`)
        await this.sleep(this.pollMs)
        continue
      }
      if (claimed.length === 0) {
        await this.sleep(await this.idleFor())
        continue
      }
      this.stats.claimed += claimed.length
      const withHistory = claimed.filter((c) => c.saga.status !== 'pending' && !c.started).map((c) => c.saga.id)
      const steps = await this.store.steps(withHistory).catch(() => null)
      if (!steps) {
        await this.store.release(this.id, claimed.map((c) => c.saga.id)).catch(() => {})
        await this.sleep(this.pollMs)
        continue
      }
      for (const c of claimed) {
        const own = steps.filter((s) => s.sagaId === c.saga.id)
        const run = this.runOne(c.saga, own, c.reclaimedFrom, c.started)
        this.inflight.set(c.saga.id, run)
      }
    }
  }

  /**
   * The definitions whose pending sagas the next claim may start: those read so far whose
   * first call the gate would let go at once (a held call must stay unstarted).
   */
  private startable(): StartableDefinitions {
    const out: StartableDefinitions = {}
    for (const [key, d] of this.defs.loaded) {
      const first = d.spec.steps[0]
      if (first && this.gate.admitsAtOnce(participantFor(d.spec, first, 'action', this.opts.env))) out[key] = first.name
    }
    return out
  }

  private async runOne(saga: Saga, steps: StepRecord[], reclaimedFrom: string | null, startedByClaim: boolean): Promise<void> {
    const ctx: RunnerContext = {
      store: this.store,
      writer: this.writer,
      defsDir: this.opts.defsDir ?? process.cwd(),
      env: this.opts.env,
      draining: () => this.stopping,
      onTransition: this.opts.onTransition,
      gate: this.gate,
    }
    try {
      const def = await this.defs.get(saga.definition, saga.version)
      const end: RunEnd = await runSaga(ctx, def.spec, saga, steps, reclaimedFrom, startedByClaim)
      this.stats[end]++
    } catch (err) {
      // The lease stays with this worker until it expires; then any worker retries from the last commit.
      this.stats.errors++
      this.log(`saga ${saga.id}: ${(err as Error).message}`)
    } finally {
      this.inflight.delete(saga.id)
      this.poke()
    }
  }

  /** Sleeps until the next retry falls due, or the poll interval, whichever comes first. */
  private async idleFor(): Promise<number> {
    const due = await this.store.nextDue().catch(() => null)
    if (!due) return this.pollMs
    // Work that is due but was not claimed is locked by other workers' claims: back off a
    // little, with jitter, rather than spin on empty claims against them.
    const wait = due.getTime() - Date.now()
    return Math.min(this.pollMs, wait > 20 ? wait : 20 + Math.random() * 30)
  }

  /**
   * Whether any connection listens on the events channel, by the advisory lock each one
   * holds (EVENTS_LISTENER_LOCK). Unknown counts as yes. A listener that arrives between
   * two checks says hello on the work channel; the transitions already on their way then
   * reach it only through its own polling, as a lost notification would.
   */
  private async checkListeners(): Promise<void> {
    try {
      const res = await this.db.query<{ listened: boolean }>(
        `SELECT EXISTS (
           SELECT 1 FROM pg_locks
           WHERE locktype = 'advisory' AND granted AND objsubid = 2
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND classid::bigint = (hashtext('sagactl.listen')::bigint & 4294967295)
             AND objid::bigint = (hashtext($1)::bigint & 4294967295)
         ) AS listened`,
        [this.db.schema],
        { name: 'sagactl_listeners' },
      )
      this.listened = res.rows[0]?.listened !== false
    } catch {
      this.listened = true
    }
  }
}
