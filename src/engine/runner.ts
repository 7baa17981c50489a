import type { SagaStore } from '../db/saga-store.js'
import type { SagaDefinition } from './definition.js'
import { executeCall, guardCallOutcome } from './executors/index.js'
import { errorText, type CallOutcome } from './executors/types.js'
import type { ParticipantGate, Ticket } from './participants/gate.js'
import { holdTransition } from './participants/hold.js'
import { participantFor } from './participants/names.js'
import { afterCall, firstStart, nextStep, stepKey, type Decision, type Next, type SagaView, type Work } from './planner.js'
import type { StepWrite, Transition } from './transition.js'
import type { Saga, StepRecord } from './types.js'
import type { TransitionWriter } from './writer.js'

export interface RunnerContext {
  store: SagaStore
  writer: TransitionWriter
  defsDir: string
  env?: NodeJS.ProcessEnv
  /** True once the worker is draining: finish the call in flight, then hand the saga back. */
  draining: () => boolean
  /** Sees every committed transition (live progress for `saga run`, logs for the worker). */
  onTransition?: (t: Transition, saga: SagaView) => void
  /** Sees every call before it is made and its outcome after. */
  onCall?: (work: Work, saga: SagaView, outcome?: CallOutcome) => void
  /** Holds calls back for paused, open or limited participants; without one every call goes. */
  gate?: ParticipantGate
}

/** How a run of one saga ended for this holder of its lease. */
export type RunEnd = 'rested' | 'released' | 'lost'

export function viewOf(saga: Saga, steps: StepRecord[]): { view: SagaView; results: Record<string, unknown> } {
  const map = new Map<string, SagaView['steps'] extends Map<string, infer V> ? V : never>()
  const results: Record<string, unknown> = {}
  for (const s of steps) {
    map.set(stepKey(s.index, s.phase), { status: s.status, attempts: s.attempts, errorKind: s.errorKind })
    if (s.phase === 'action' && (s.status === 'succeeded' || s.status === 'skipped')) results[s.name] = s.output ?? null
  }
  return {
    view: { id: saga.id, status: saga.status, stepIndex: saga.stepIndex, compPlan: saga.compensationPlan, deadlineAt: saga.deadlineAt, steps: map },
    results,
  }
}

function applyToView(v: SagaView, results: Record<string, unknown>, t: Transition): void {
  v.status = t.saga.status
  v.stepIndex = t.saga.stepIndex
  if (t.saga.compPlan !== undefined) v.compPlan = t.saga.compPlan
  for (const s of t.steps) {
    v.steps.set(stepKey(s.index, s.phase), { status: s.status, attempts: s.attempts, errorKind: s.errorKind })
    if (s.phase === 'action' && s.status === 'succeeded') results[s.name] = s.output ?? null
  }
}

/** `t` without the start of a step other than the one just called, giving up the lease so any worker can go on at once. */
function handedBack(t: Transition, called: Work): Transition {
  const started = (s: StepWrite) => s.status === 'running' && !(s.index === called.index && s.phase === called.phase)
  const next = t.steps.find(started)
  return {
    ...t,
    saga: { ...t.saga, due: 'now', release: true },
    steps: t.steps.filter((s) => !started(s)),
    events: next ? t.events.filter((e) => !(e.type === 'step.started' && e.step === next.name && e.phase === next.phase)) : t.events,
  }
}

/**
 * Advances one leased saga until it rests (finished, suspended, or waiting for a retry
 * in the database), the worker drains, or the lease turns out to be lost. Every
 * transition is committed before the next call is made.
 *
 * `startedByClaim`: the claim already committed the start transition (`firstStart`): the
 * first call goes at once, without the deadline check the claim made in the database,
 * and the gate admits it as the claim's check of its cached view did.
 */
export async function runSaga(ctx: RunnerContext, def: SagaDefinition, saga: Saga, steps: StepRecord[], reclaimedFrom: string | null, startedByClaim = false): Promise<RunEnd> {
  const { view, results } = viewOf(saga, steps)
  let started: Work | null = null
  if (startedByClaim) {
    const first = firstStart(def, saga.id)
    applyToView(view, results, first.start)
    ctx.onTransition?.(first.start, view)
    started = first.work
  }
  // Only an operator changes a step's rerun count, and never while a worker holds the saga.
  const reruns = new Map(steps.filter((s) => s.rerun > 0).map((s) => [stepKey(s.index, s.phase), s.rerun]))
  let firstWrite = reclaimedFrom ? [{ type: 'saga.reclaimed' as const, data: { from: reclaimedFrom } }] : []
  let lastError = saga.lastError
  let waitingFor = saga.waitingFor

  const write = async (t: Transition): Promise<boolean> => {
    if (firstWrite.length > 0) t = { ...t, events: [...firstWrite, ...t.events] }
    const ok = await ctx.writer.submit(t)
    firstWrite = []
    if (ok) {
      lastError = t.saga.lastError
      waitingFor = t.saga.waitingFor ?? null
      applyToView(view, results, t)
      ctx.onTransition?.(t, view)
    }
    return ok
  }

  /**
   * Writes what a call led to. An outcome the database still refuses is recorded as a
   * failed call carrying the write's error, so the step follows its retry policy rather
   * than stay `running` until the lease lapses and the call is silently made again.
   */
  const recordOutcome = async (work: Work, outcome: CallOutcome, guard: (o: CallOutcome) => CallOutcome): Promise<Decision | 'lost' | 'released'> => {
    // A draining worker makes no further call: the outcome goes in with the saga handed
    // back and its next step not started, so nothing shows `running` that no one runs.
    const settle = async (d: Decision): Promise<Decision | 'lost' | 'released'> => {
      const drain = d.continues && ctx.draining()
      if (!(await write(drain ? handedBack(d.transition, work) : d.transition))) return 'lost'
      return drain ? 'released' : d
    }
    try {
      return await settle(afterCall(def, view, work, outcome, new Date()))
    } catch (err) {
      const failed = guard({ kind: 'transient', error: `cannot record the outcome: ${errorText(err)}` })
      return settle(afterCall(def, view, work, failed, new Date()))
    }
  }

  for (;;) {
    // A start the claim committed is a call under way: it is made, like one in flight.
    if (!started && ctx.draining()) {
      await ctx.store.release(ctx.writer.owner, [saga.id])
      return 'released'
    }
    const next: Next = started ? { kind: 'call', work: started } : nextStep(def, view, new Date())
    if (next.kind === 'transition') {
      if (!(await write(next.transition))) return 'lost'
      if (next.done || next.transition.saga.release) return 'rested'
      continue
    }
    const { work } = next
    // The gate decides before the step is started, so a held call uses no attempt.
    let ticket: Ticket | null = null
    const participant = ctx.gate ? participantFor(def, work.step, work.phase, ctx.env) : null
    if (ctx.gate && started) ticket = ctx.gate.admitted(participant!, `${ctx.writer.owner}/${saga.id}`)
    else if (ctx.gate) {
      const d = await ctx.gate.admit(participant!, `${ctx.writer.owner}/${saga.id}`, work.step.timeout)
      if (!d.ok) {
        const t = holdTransition(def, view, work, d.hold, lastError, waitingFor !== d.hold.participant)
        return (await write(t)) ? 'rested' : 'lost'
      }
      ticket = d.ticket
    }
    started = null
    if (next.start && !(await write(next.start))) {
      if (ticket) await ctx.gate!.finish(ticket, 'lost')
      return 'lost'
    }
    ctx.onCall?.(work, view)
    const call = work.phase === 'action' ? work.step.action : work.step.compensation!
    let outcome = await executeCall(
      call,
      {
        sagaId: saga.id,
        step: work.step.name,
        phase: work.phase,
        attempt: work.attempt,
        input: saga.input,
        results: { ...results },
        rerun: reruns.get(stepKey(work.index, work.phase)) ?? 0,
        index: work.index,
      },
      { timeoutMs: work.step.timeout, defsDir: ctx.defsDir, env: ctx.env },
    )
    ctx.onCall?.(work, view, outcome)
    const reported = ticket ? ctx.gate!.finish(ticket, outcome) : null
    if (ticket?.probe && outcome.kind === 'transient') {
      // A probe tests the participant for everyone: its failure reopens the circuit and
      // costs this saga no attempt; it waits like every other saga.
      outcome = { kind: 'pending', error: `${outcome.error} (circuit probe failed; no attempt used)`, retryAfterMs: ticket.participant.circuit?.cooldown }
    }
    const [decision] = await Promise.all([recordOutcome(work, outcome, (o) => guardCallOutcome(call, o, ctx.env)), reported?.catch(() => null)])
    if (decision === 'lost' || decision === 'released') return decision
    if (!decision.continues) return 'rested'
  }
}
