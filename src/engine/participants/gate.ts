import {
  acquire,
  done,
  ensureParticipants,
  flushStats,
  isPaused,
  PARTICIPANT_LATENCY_BUCKETS,
  pruneStats,
  readGateView,
  STATS_BUCKET_MS,
  type CachedParticipant,
  type GateState,
  type StatsDelta,
} from '../../db/participants.js'
import type { Database } from '../../db/types.js'
import type { CallOutcome } from '../executors/types.js'
import { hasControls, type ResolvedParticipant } from './names.js'

/**
 * The gate in front of every call a worker, a scheduler pass or `saga run` makes.
 *
 * Cheap by default: a participant without controls costs no query per call. Its row
 * (paused? circuit open? an operator's rate?) is read for all participants at once at
 * most every `cacheMs`, so a pause reaches every process within that time
 * (`participant pause` waits it out before it returns).
 *
 * A participant with controls (limits or a circuit in a definition, an operator's rate,
 * a circuit that is not closed) costs one locked single-row update before the call and
 * one after: exact across every process, because each decision is taken under the row lock.
 */

export interface Ticket {
  participant: ResolvedParticipant
  holder: string
  /** Went through the database: must report back. */
  controlled: boolean
  probe: boolean
  startedAt: number
}

export interface Hold {
  participant: string
  state: Exclude<GateState, 'ok'>
  /** Try again at this time (before any deadline, which the caller applies). */
  until: Date
}

export type GateDecision = { ok: true; ticket: Ticket } | { ok: false; hold: Hold }

export interface GateOptions {
  /** How old the cached view of every participant may get (default 1 s). */
  cacheMs?: number
  /** Statistics are written this often (default 2 s). */
  flushMs?: number
  /** Names this process' statistics rows. */
  owner: string
  random?: () => number
}

/** How long a paused participant's waiters sleep before looking again; resume wakes them at once. */
const PAUSE_RECHECK_MS = 30_000
/** A slot outlives a call that never reports (its holder was killed) by this margin over the call timeout. */
const SLOT_MARGIN_MS = 5_000

interface Tally {
  calls: number
  errors: number
  latency: number[]
  inFlight: number
}

export class ParticipantGate {
  readonly cacheMs: number
  private view = new Map<string, CachedParticipant>()
  private viewAt = 0
  private loading: Promise<void> | null = null
  private readonly known = new Set<string>()
  private readonly unseen = new Set<string>()
  private readonly tallies = new Map<string, Tally>()
  private readonly inFlight = new Map<string, number>()
  private readonly reportedInFlight = new Map<string, number>()
  private readonly pending = new Set<Promise<unknown>>()
  private flushTimer: NodeJS.Timeout | null = null
  private flushes = 0
  private readonly random: () => number

  constructor(
    private readonly db: Database,
    private readonly opts: GateOptions,
  ) {
    this.cacheMs = opts.cacheMs ?? 1_000
    this.random = opts.random ?? Math.random
    this.flushTimer = setInterval(() => void this.flush().catch(() => {}), opts.flushMs ?? 2_000)
    this.flushTimer.unref()
  }

  /** Decides whether a call may go now. Never uses up an attempt: a held call was never made. */
  async admit(p: ResolvedParticipant, holder: string, timeoutMs: number): Promise<GateDecision> {
    const cached = await this.cached(p.name)
    const controlled = hasControls(p) || cached?.operatorRps != null || (cached !== undefined && cached.circuitState !== 'closed')
    if (!controlled) {
      // A hold is checked against the row itself: a resume must never be missed by a stale view.
      if (cached?.paused && (await isPaused(this.db, p.name))) {
        return { ok: false, hold: { participant: p.name, state: 'paused', until: this.later(PAUSE_RECHECK_MS) } }
      }
      return { ok: true, ticket: this.started({ participant: p, holder, controlled: false, probe: false, startedAt: Date.now() }) }
    }
    const a = await acquire(this.db, {
      name: p.name,
      holder,
      holdMs: timeoutMs + SLOT_MARGIN_MS,
      maxInFlight: p.maxInFlight,
      rps: p.rps,
      circuit: p.circuit,
    })
    if (a.admitted) return { ok: true, ticket: this.started({ participant: p, holder, controlled: true, probe: a.probe, startedAt: Date.now() }) }
    const state = a.state === 'ok' ? 'limited' : a.state
    return { ok: false, hold: { participant: p.name, state, until: this.spread(p, cached, state, a.until) } }
  }

  /**
   * Whether `admit` would let a call to `p` go without a query, judged from the cached
   * view as it is now (a stale view says no). A claim that starts sagas asks this before
   * it marks their first step running; the call then goes with `admitted`.
   */
  admitsAtOnce(p: ResolvedParticipant): boolean {
    if (hasControls(p) || !this.known.has(p.name) || Date.now() - this.viewAt > this.cacheMs) return false
    const cached = this.view.get(p.name)
    return cached !== undefined && !cached.paused && cached.operatorRps == null && cached.circuitState === 'closed'
  }

  /** The ticket of a call `admitsAtOnce` let go. */
  admitted(p: ResolvedParticipant, holder: string): Ticket {
    return this.started({ participant: p, holder, controlled: false, probe: false, startedAt: Date.now() })
  }

  /** Reports the outcome of an admitted call; `lost` when it was never made after all. */
  async finish(t: Ticket, outcome: CallOutcome | 'lost'): Promise<string | null> {
    const name = t.participant.name
    this.inFlight.set(name, Math.max(0, (this.inFlight.get(name) ?? 1) - 1))
    const kind = outcome === 'lost' ? 'lost' : outcome.kind
    if (kind !== 'lost') {
      const tally = this.tally(name)
      tally.calls++
      if (kind === 'transient') tally.errors++
      const ms = Date.now() - t.startedAt
      tally.latency[PARTICIPANT_LATENCY_BUCKETS.findIndex((b) => ms <= b)]!++
    }
    if (!t.controlled) return null
    const p = done(this.db, {
      name,
      holder: t.holder,
      kind,
      probe: t.probe,
      circuit: t.participant.circuit,
      error: outcome === 'lost' ? null : 'error' in outcome ? outcome.error : null,
    })
    this.pending.add(p)
    try {
      const change = await p
      // The next decision in this process must see the new circuit state, not a cached one.
      if (change) this.viewAt = 0
      return change
    } finally {
      this.pending.delete(p)
    }
  }

  /** Writes the statistics gathered since the last flush. */
  async flush(): Promise<void> {
    const now = Date.now()
    const bucket = new Date(Math.floor(now / STATS_BUCKET_MS) * STATS_BUCKET_MS)
    const rows: StatsDelta[] = []
    const names = new Set([...this.tallies.keys(), ...this.inFlight.keys()])
    for (const name of names) {
      const t = this.tallies.get(name)
      const inFlight = this.inFlight.get(name) ?? 0
      if (!t && inFlight === (this.reportedInFlight.get(name) ?? 0)) continue
      this.reportedInFlight.set(name, inFlight)
      rows.push({ participant: name, bucket, calls: t?.calls ?? 0, errors: t?.errors ?? 0, latency: t?.latency ?? emptyHistogram(), inFlight })
    }
    this.tallies.clear()
    if (rows.length > 0) await flushStats(this.db, this.opts.owner, rows)
    if (++this.flushes % 100 === 0) await pruneStats(this.db)
  }

  /** Waits for outcomes being reported and writes the last statistics. */
  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer)
    await Promise.allSettled([...this.pending])
    await this.flush().catch(() => {})
  }

  private started(t: Ticket): Ticket {
    this.inFlight.set(t.participant.name, (this.inFlight.get(t.participant.name) ?? 0) + 1)
    return t
  }

  private tally(name: string): Tally {
    let t = this.tallies.get(name)
    if (!t) this.tallies.set(name, (t = { calls: 0, errors: 0, latency: emptyHistogram(), inFlight: 0 }))
    return t
  }

  private later(ms: number): Date {
    return new Date(Date.now() + ms * (0.9 + 0.2 * this.random()))
  }

  /**
   * Waiters must not all come back at the same instant: behind a rate, they are spread
   * over the time the rate needs to let every one of them through; behind a cooldown, over
   * a little jitter after it.
   */
  private spread(p: ResolvedParticipant, cached: CachedParticipant | undefined, state: Hold['state'], until: Date | null): Date {
    const base = until ? until.getTime() : Date.now() + 1_000
    if (state === 'limited') {
      const rate = Math.min(p.rps ?? Infinity, cached?.operatorRps ?? Infinity)
      const waiting = (cached?.waiting ?? 0) + 1
      const window = Number.isFinite(rate) ? Math.min(60_000, (waiting / rate) * 1000) : 250
      return new Date(base + this.random() * window)
    }
    if (state === 'paused') return this.later(PAUSE_RECHECK_MS)
    return new Date(base + this.random() * 250)
  }

  private async cached(name: string): Promise<CachedParticipant | undefined> {
    if (!this.known.has(name)) this.unseen.add(name)
    if (Date.now() - this.viewAt > this.cacheMs || this.unseen.size > 0) await this.reload()
    return this.view.get(name)
  }

  private reload(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const names = [...this.unseen]
        await ensureParticipants(this.db, names)
        for (const n of names) {
          this.known.add(n)
          this.unseen.delete(n)
        }
        const startedAt = Date.now()
        const rows = await readGateView(this.db)
        this.view = new Map(rows.map((r) => [r.name, r]))
        this.viewAt = startedAt
      } finally {
        this.loading = null
      }
    })()
    return this.loading
  }
}

function emptyHistogram(): number[] {
  return PARTICIPANT_LATENCY_BUCKETS.map(() => 0)
}
