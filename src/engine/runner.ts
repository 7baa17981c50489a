import type { SagaStore } from '../db/saga-store.js'
import type { SagaDefinition } from './definition.js'
import { executeCall } from './executors/index.js'
import type { CallOutcome } from './executors/types.js'
import { afterCall, nextStep, stepKey, type SagaView, type Work } from './planner.js'
import type { Transition } from './transition.js'
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

/**
 * Advances one leased saga until it rests (finished, suspended, or waiting for a retry
 * in the database), the worker drains, or the lease turns out to be lost. Every
 * transition is committed before the next call is made.
 */
export async function runSaga(ctx: RunnerContext, def: SagaDefinition, saga: Saga, steps: StepRecord[], reclaimedFrom: string | null): Promise<RunEnd> {
  const { view, results } = viewOf(saga, steps)
  let firstWrite = reclaimedFrom ? [{ type: 'saga.reclaimed' as const, data: { from: reclaimedFrom } }] : []

  const write = async (t: Transition): Promise<boolean> => {
    if (firstWrite.length > 0) {
      t = { ...t, events: [...firstWrite, ...t.events] }
      firstWrite = []
    }
    const ok = await ctx.writer.submit(t)
    if (ok) {
      applyToView(view, results, t)
      ctx.onTransition?.(t, view)
    }
    return ok
  }

  for (;;) {
    if (ctx.draining()) {
      await ctx.store.release(ctx.writer.owner, [saga.id])
      return 'released'
    }
    const next = nextStep(def, view, new Date())
    if (next.kind === 'transition') {
      if (!(await write(next.transition))) return 'lost'
      if (next.done || next.transition.saga.release) return 'rested'
      continue
    }
    if (next.start && !(await write(next.start))) return 'lost'
    const { work } = next
    ctx.onCall?.(work, view)
    const call = work.phase === 'action' ? work.step.action : work.step.compensation!
    const outcome = await executeCall(
      call,
      { sagaId: saga.id, step: work.step.name, phase: work.phase, attempt: work.attempt, input: saga.input, results: { ...results }, index: work.index },
      { timeoutMs: work.step.timeout, defsDir: ctx.defsDir, env: ctx.env },
    )
    ctx.onCall?.(work, view, outcome)
    const decision = afterCall(def, view, work, outcome, new Date())
    if (!(await write(decision.transition))) return 'lost'
    if (!decision.continues) return 'rested'
  }
}
