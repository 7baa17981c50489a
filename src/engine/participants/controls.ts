import { setTimeout as sleep } from 'node:timers/promises'
import { recordAudit } from '../../db/audit.js'
import {
  getParticipantRow,
  listParticipantRows,
  participantEvents,
  participantLoad,
  PARTICIPANT_LATENCY_BUCKETS,
  recordParticipantEvent,
  setPaused,
  setResumed,
  waitingCounts,
  type GateState,
  type ParticipantEvent,
  type ParticipantRow,
} from '../../db/participants.js'
import type { Database, Queryable } from '../../db/types.js'
import { NotFoundError, UsageError } from '../../errors.js'

/** What `participant list`, the console and the metrics show for one participant. */
export interface ParticipantSummary {
  name: string
  state: GateState
  /** Calls that ended in the last minute (whole 10-second buckets), over every process. */
  callsLastMinute: number
  /** Transient failures / calls in the last minute; null without calls. */
  errorRate: number | null
  /** Latency percentiles as the upper bound of their histogram bucket, in ms; null without calls. */
  p50Ms: number | null
  p95Ms: number | null
  inFlight: number
  sagasWaiting: number
  maxInFlight: number | null
  rps: number | null
  operatorRps: number | null
  circuit: ParticipantRow['circuit']
  circuitState: ParticipantRow['circuitState']
  openedAt: Date | null
  paused: { reason: string | null; by: string | null; at: Date | null } | null
}

/** How long every gate's cached view may lag; a pause returns only after it has passed. */
export const GATE_CACHE_MS = 1_000

function percentile(hist: number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0)
  if (total === 0) return null
  const rank = Math.ceil(q * total)
  let seen = 0
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!
    if (seen >= rank) {
      const bound = PARTICIPANT_LATENCY_BUCKETS[i]!
      return Number.isFinite(bound) ? bound : PARTICIPANT_LATENCY_BUCKETS.at(-2)!
    }
  }
  return null
}

export function participantState(row: ParticipantRow, waiting: number): GateState {
  if (row.paused) return 'paused'
  if (row.circuitState !== 'closed') return row.circuitState
  if (row.operatorRps !== null || waiting > 0) return 'limited'
  return 'ok'
}

/** The state of the participants sagas wait for, for `saga list`, `saga show` and the console. */
export async function waitingStates(q: Queryable, sagas: Array<{ waitingFor: string | null }>): Promise<Map<string, GateState>> {
  const names = [...new Set(sagas.map((s) => s.waitingFor).filter((n): n is string => n !== null))]
  if (names.length === 0) return new Map()
  const rows = await listParticipantRows(q, names)
  return new Map(rows.map((r) => [r.name, participantState(r, 1)]))
}

/** "waiting for a paused participant: payments" */
export function waitingText(name: string, state: GateState | undefined): string {
  const what = state === 'paused' ? 'a paused participant' : state === 'open' || state === 'half-open' ? `a participant whose circuit is ${state}` : 'a participant at its limit'
  return `waiting for ${what}: ${name}`
}

export async function listParticipants(q: Queryable): Promise<ParticipantSummary[]> {
  const [rows, load, waiting] = await Promise.all([listParticipantRows(q), participantLoad(q), waitingCounts(q)])
  const byName = new Map(load.map((l) => [l.participant, l]))
  return rows.map((r) => {
    const l = byName.get(r.name)
    const w = waiting.get(r.name) ?? 0
    const calls = l?.calls ?? 0
    return {
      name: r.name,
      state: participantState(r, w),
      callsLastMinute: calls,
      errorRate: calls === 0 ? null : (l?.errors ?? 0) / calls,
      p50Ms: l ? percentile(l.latency, 0.5) : null,
      p95Ms: l ? percentile(l.latency, 0.95) : null,
      inFlight: Math.max(l?.inFlight ?? 0, r.slotsInUse),
      sagasWaiting: w,
      maxInFlight: r.maxInFlight,
      rps: r.rps,
      operatorRps: r.operatorRps,
      circuit: r.circuit,
      circuitState: r.circuitState,
      openedAt: r.openedAt,
      paused: r.paused ? { reason: r.pausedReason, by: r.pausedBy, at: r.pausedAt } : null,
    }
  })
}

export async function showParticipant(q: Queryable, name: string): Promise<{ participant: ParticipantSummary; events: ParticipantEvent[] }> {
  const participant = (await listParticipants(q)).find((p) => p.name === name)
  if (!participant) throw notFound(name)
  return { participant, events: await participantEvents(q, name) }
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`no participant "${name}"`, 'sagactl participant list shows the participants workers have called')
}

export interface ControlContext {
  operator: string
  reason?: string
  /** Skip waiting for every process' cached view to expire (tests, the console). */
  noWait?: boolean
}

/**
 * Pauses a participant: no new call to it from any process once this returns (it
 * waits out the gates' cache); calls in flight finish. Audited, and an event on the participant.
 */
export async function pauseParticipant(db: Database, name: string, ctx: ControlContext & { reason: string }): Promise<ParticipantSummary> {
  await db.transaction(async (tx) => {
    const row = await getParticipantRow(tx, name, true)
    if (!row) throw notFound(name)
    await setPaused(tx, name, ctx.operator, ctx.reason)
    await recordParticipantEvent(tx, { participant: name, type: 'paused', actor: ctx.operator, reason: ctx.reason, data: { wasPaused: row.paused } })
    await recordAudit(tx, { operator: ctx.operator, action: 'participant.pause', target: name, reason: ctx.reason, details: { wasPaused: row.paused } })
  })
  if (!ctx.noWait) await sleep(GATE_CACHE_MS + 100)
  return (await showParticipant(db, name)).participant
}

/** Lifts a pause and sets (or, without `rps`, clears) the operator's rate; wakes the sagas waiting for it. */
export async function resumeParticipant(db: Database, name: string, ctx: ControlContext & { rps?: number }): Promise<ParticipantSummary & { woken: number }> {
  if (ctx.rps !== undefined && !(ctx.rps > 0)) throw new UsageError(`--rps must be a positive number, got ${ctx.rps}`)
  const rps = ctx.rps ?? null
  const woken = await db.transaction(async (tx) => {
    const row = await getParticipantRow(tx, name, true)
    if (!row) throw notFound(name)
    const n = await setResumed(db, tx, name, rps)
    const details = { wasPaused: row.paused, rps, previousRps: row.operatorRps, woken: n }
    await recordParticipantEvent(tx, { participant: name, type: 'resumed', actor: ctx.operator, reason: ctx.reason ?? null, data: details })
    await recordAudit(tx, { operator: ctx.operator, action: 'participant.resume', target: name, reason: ctx.reason ?? null, details })
    return n
  })
  return { ...(await showParticipant(db, name)).participant, woken }
}
