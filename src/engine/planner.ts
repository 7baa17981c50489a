import { v7 as uuidv7 } from 'uuid'
import type { SagaDefinition, StepDef } from './definition.js'
import type { CallOutcome } from './executors/types.js'
import { MAX_RETRY_DELAY_MS } from './limits.js'
import { retryDelay } from './retry.js'
import type { SagaChange, StepWrite, Transition } from './transition.js'
import type { ErrorKind, Phase, SagaStatus, StepStatus } from './types.js'

/**
 * The state machine of SPEC.md section 3 as pure functions: given what is known of a
 * saga and the outcome of a call, what to write next. No I/O, no clock of its own.
 */

export interface StepState {
  status: StepStatus
  attempts: number
  errorKind: ErrorKind | null
  output?: unknown
}

export interface SagaView {
  id: string
  status: SagaStatus
  stepIndex: number | null
  compPlan: number[] | null
  deadlineAt: Date | null
  /** Keyed by `stepKey(index, phase)`. */
  steps: Map<string, StepState>
}

export const stepKey = (index: number, phase: Phase): string => `${index}:${phase}`

/** A step's action was attempted when a call may have had an effect: it succeeded, or its outcome is unknown. */
export function actionAttempted(s: StepState | undefined): boolean {
  if (!s || s.attempts === 0) return false
  if (s.status === 'skipped') return false
  if (s.status === 'succeeded') return true
  return s.errorKind !== 'business'
}

/** Steps to compensate, in order: every attempted step that has a compensation, reversed (or compensationOrder). */
export function compensationPlan(def: SagaDefinition, steps: Map<string, StepState>): number[] {
  const attempted = def.steps
    .map((s, i) => ({ s, i }))
    .filter(({ s, i }) => s.compensation && actionAttempted(steps.get(stepKey(i, 'action'))))
    .map(({ i }) => i)
  if (def.compensationOrder) {
    const order = def.compensationOrder.map((name) => def.steps.findIndex((s) => s.name === name))
    return order.filter((i) => attempted.includes(i))
  }
  return attempted.reverse()
}

/** Why each step will or will not be compensated: the `--dry-run` plan. */
export function explainPlan(def: SagaDefinition, steps: Map<string, StepState>): Array<{ step: string; index: number; order: number | null; compensate: boolean; why: string }> {
  const plan = compensationPlan(def, steps)
  return def.steps.map((s, i) => {
    const rec = steps.get(stepKey(i, 'action'))
    const pos = plan.indexOf(i)
    let why: string
    if (!rec || rec.attempts === 0) why = 'never attempted'
    else if (rec.status === 'skipped') why = 'skipped by an operator'
    else if (rec.status === 'succeeded') why = s.compensation ? 'action succeeded' : 'action succeeded, but the step has no compensation'
    else if (rec.errorKind === 'business') why = 'action failed with a business error: the service did nothing'
    else if (rec.errorKind === 'failure') why = s.compensation ? 'action answered FAILURE (protocol dtm): its compensation runs' : 'action answered FAILURE, but the step has no compensation'
    else why = s.compensation ? `action attempted, outcome unknown (${rec.errorKind ?? 'in flight'})` : 'outcome unknown, but the step has no compensation'
    return { step: s.name, index: i, order: pos === -1 ? null : pos + 1, compensate: pos !== -1, why }
  })
}

export interface Work {
  index: number
  phase: Phase
  step: StepDef
  attempt: number
}

export type Next =
  | { kind: 'call'; work: Work; start?: Transition }
  | { kind: 'transition'; transition: Transition; done: boolean }

const keepLease = (c: Omit<SagaChange, 'due' | 'release'>): SagaChange => ({ ...c, due: 'keep', release: false })

function startStep(def: SagaDefinition, index: number, phase: Phase, prev: StepState | undefined): { write: StepWrite; attempt: number; event: Transition['events'][number] } {
  // A 425 ("still in progress") does not use up an attempt: the next poll repeats its number.
  const attempt = prev && prev.errorKind === 'pending' ? prev.attempts : (prev?.attempts ?? 0) + 1
  const step = def.steps[index]!
  return {
    write: { index, phase, name: step.name, status: 'running', attempts: attempt, lastError: null, errorKind: null, started: true },
    attempt,
    event: { type: 'step.started', step: step.name, phase, attempt },
  }
}

/** How a pending saga starts: running, its first step's action started (attempt 1), then that call. */
export function firstStart(def: SagaDefinition, sagaId: string): { work: Work; start: Transition } {
  const s = startStep(def, 0, 'action', undefined)
  return {
    work: { index: 0, phase: 'action', step: def.steps[0]!, attempt: s.attempt },
    start: {
      sagaId,
      saga: keepLease({ status: 'running', stepIndex: 0, stepName: def.steps[0]!.name, lastError: null }),
      steps: [s.write],
      events: [{ type: 'saga.started' }, s.event],
    },
  }
}

/** What a worker holding the lease does next. */
export function nextStep(def: SagaDefinition, v: SagaView, now: Date): Next {
  const overdue = v.deadlineAt !== null && now >= v.deadlineAt
  // Past the deadline before anything ran: nothing is attempted, nothing is left to undo.
  if (v.status === 'pending' && overdue) {
    return { kind: 'transition', transition: startCompensation(def, v, 'timeout', { leased: true }), done: true }
  }
  if (v.status === 'pending') return { kind: 'call', ...firstStart(def, v.id) }
  if (v.status === 'running' && overdue) {
    return { kind: 'transition', transition: startCompensation(def, v, 'timeout', { leased: true }), done: false }
  }
  const phase: Phase = v.status === 'compensating' ? 'compensation' : 'action'
  const index = v.stepIndex ?? 0
  const step = def.steps[index]
  if (!step || (phase === 'compensation' && !step.compensation)) {
    throw new Error(`saga ${v.id} points at step ${index} (${phase}), which its definition does not have`)
  }
  const rec = v.steps.get(stepKey(index, phase))
  if (rec?.status === 'running') return { kind: 'call', work: { index, phase, step, attempt: rec.attempts } }
  const s = startStep(def, index, phase, rec)
  return {
    kind: 'call',
    work: { index, phase, step, attempt: s.attempt },
    start: {
      sagaId: v.id,
      saga: keepLease({ status: v.status, stepIndex: index, stepName: step.name, lastError: null }),
      steps: [s.write],
      events: [s.event],
    },
  }
}

export interface Decision {
  transition: Transition
  /** True while the worker keeps the lease and goes on with the next call. */
  continues: boolean
}

/** What the outcome of a call leads to. `random` feeds the retry jitter. */
export function afterCall(def: SagaDefinition, v: SagaView, work: Work, outcome: CallOutcome, now: Date, random: () => number = Math.random): Decision {
  const { step, index, phase, attempt } = work
  const name = step.name
  if (outcome.kind === 'success') {
    const done: StepWrite = { index, phase, name, status: 'succeeded', attempts: attempt, output: outcome.output ?? null, lastError: null, errorKind: null, finished: true }
    const events: Transition['events'] = [{ type: 'step.succeeded', step: name, phase, attempt }]
    const nextIndex = phase === 'action' ? (index + 1 < def.steps.length ? index + 1 : null) : nextInPlan(v.compPlan, index)
    if (nextIndex === null) {
      const status: SagaStatus = phase === 'action' ? 'completed' : 'compensated'
      events.push({ type: phase === 'action' ? 'saga.completed' : 'saga.compensated' })
      return {
        transition: { sagaId: v.id, saga: { status, stepIndex: null, stepName: null, due: 'none', release: true, lastError: null, finished: true }, steps: [done], events },
        continues: false,
      }
    }
    if (phase === 'action' && v.deadlineAt && now >= v.deadlineAt) {
      // Past the deadline: compensate now rather than record a next step that is never called.
      const steps = new Map(v.steps)
      steps.set(stepKey(index, phase), { status: 'succeeded', attempts: attempt, errorKind: null })
      const t = startCompensation(def, { ...v, steps }, 'timeout', { leased: true })
      t.steps.unshift(done)
      t.events.unshift(...events)
      return { transition: t, continues: t.saga.status === 'compensating' }
    }
    const s = startStep(def, nextIndex, phase, undefined)
    events.push(s.event)
    return {
      transition: { sagaId: v.id, saga: keepLease({ status: v.status, stepIndex: nextIndex, stepName: def.steps[nextIndex]!.name, lastError: null }), steps: [done, s.write], events },
      continues: true,
    }
  }

  const policy = phase === 'action' ? step.retry : step.compensationRetry
  const error = outcome.error
  const deadline = phase === 'action' ? v.deadlineAt : null
  const failedEvent = (data: Record<string, unknown>) => ({ type: 'step.failed' as const, step: name, phase, attempt, data: { kind: outcome.kind, error, ...data } })

  const waitAndRetry = (delayMs: number, kind: ErrorKind): Decision => {
    // Bounded: a Retry-After or a policy of 1e20 ms would be an invalid date and an unwritable outcome.
    const wait = Number.isFinite(delayMs) ? Math.min(MAX_RETRY_DELAY_MS, Math.max(1, delayMs)) : MAX_RETRY_DELAY_MS
    let at = new Date(now.getTime() + wait)
    // A deadline inside the wait: come back at the deadline, which starts compensation.
    if (deadline && at > deadline) at = deadline
    return {
      transition: {
        sagaId: v.id,
        saga: { status: v.status, stepIndex: index, stepName: name, due: 'at', dueAt: at, release: true, lastError: error },
        steps: [{ index, phase, name, status: 'pending', attempts: attempt, lastError: error, errorKind: kind }],
        events: [failedEvent({ retryAt: at.toISOString() })],
      },
      continues: false,
    }
  }

  if (outcome.kind === 'pending') return waitAndRetry(outcome.retryAfterMs ?? policy.initialDelay, 'pending')
  if (outcome.kind === 'transient' && attempt < policy.maxAttempts) {
    return waitAndRetry(Math.max(retryDelay(policy, attempt, random), outcome.retryAfterMs ?? 0), 'transient')
  }

  // A business failure, or retries exhausted: this step has failed for good.
  const kind: ErrorKind = outcome.kind === 'business' ? (outcome.compensate ? 'failure' : 'business') : 'transient'
  const failed: StepWrite = { index, phase, name, status: 'failed', attempts: attempt, lastError: error, errorKind: kind, finished: true }
  const why = outcome.kind === 'business' ? error : `${error} (after ${attempt} attempt${attempt === 1 ? '' : 's'})`
  const steps = new Map(v.steps)
  steps.set(stepKey(index, phase), { status: 'failed', attempts: attempt, errorKind: kind })
  const after: SagaView = { ...v, steps }

  if (phase === 'compensation') {
    const t = suspend(after, `compensation of ${name} failed: ${why}`, index, name, 'compensation', error)
    t.steps.unshift(failed)
    t.events.unshift(failedEvent({}))
    return { transition: t, continues: false }
  }
  if (step.onFailure === 'suspend') {
    const t = suspend(after, `${name} failed: ${why}`, index, name, 'action', error)
    t.steps.unshift(failed)
    t.events.unshift(failedEvent({}))
    return { transition: t, continues: false }
  }
  const t = startCompensation(def, after, `${name} failed: ${why}`, { leased: true })
  t.steps.unshift(failed)
  t.events.unshift(failedEvent({}))
  return { transition: t, continues: t.saga.status === 'compensating' }
}

function nextInPlan(plan: number[] | null, current: number): number | null {
  if (!plan) return null
  const pos = plan.indexOf(current)
  return pos >= 0 && pos + 1 < plan.length ? plan[pos + 1]! : null
}

/** Next entry of the compensation plan after a skipped one, or of the actions after a skipped action. */
export function nextAfter(def: SagaDefinition, v: SagaView, index: number, phase: Phase): number | null {
  if (phase === 'compensation') return nextInPlan(v.compPlan, index)
  return index + 1 < def.steps.length ? index + 1 : null
}

/**
 * Starts compensation: a worker continues with it under its lease; an operator's
 * transition releases the saga so any worker picks it up at once.
 */
export function startCompensation(def: SagaDefinition, v: SagaView, reason: string, opts: { leased: boolean }): Transition {
  const steps: StepWrite[] = []
  // An action cut short (deadline, operator) keeps a record that it may have run.
  if (v.status === 'running' && v.stepIndex !== null) {
    const rec = v.steps.get(stepKey(v.stepIndex, 'action'))
    if (rec && (rec.status === 'running' || rec.status === 'pending')) {
      steps.push({ index: v.stepIndex, phase: 'action', name: def.steps[v.stepIndex]!.name, status: 'failed', attempts: rec.attempts, lastError: `interrupted: ${reason}`, errorKind: rec.errorKind ?? 'timeout', finished: true })
    }
  }
  const plan = compensationPlan(def, v.steps)
  const names = plan.map((i) => def.steps[i]!.name)
  const events: Transition['events'] = [{ type: 'saga.compensating', data: { reason, plan: names } }]
  const lease = opts.leased ? { due: 'keep' as const, release: false } : { due: 'now' as const, release: true }
  if (plan.length === 0) {
    events.push({ type: 'saga.compensated', data: { reason: 'nothing to undo' } })
    return {
      sagaId: v.id,
      saga: { status: 'compensated', stepIndex: null, stepName: null, due: 'none', release: true, compPlan: [], lastError: null, reason, finished: true },
      steps,
      events,
    }
  }
  const first = plan[0]!
  const change: SagaChange = { status: 'compensating', stepIndex: first, stepName: def.steps[first]!.name, ...lease, compPlan: plan, lastError: null, reason }
  if (opts.leased) {
    const s = startStep(def, first, 'compensation', v.steps.get(stepKey(first, 'compensation')))
    steps.push(s.write)
    events.push(s.event)
  }
  return { sagaId: v.id, saga: change, steps, events }
}

export function suspend(v: SagaView, reason: string, index: number | null, stepName: string | null, phase: Phase | null, lastError: string | null): Transition {
  const interventionId = uuidv7()
  return {
    sagaId: v.id,
    saga: { status: 'suspended', stepIndex: index, stepName, due: 'none', release: true, lastError, reason },
    steps: [],
    events: [
      { type: 'saga.suspended', step: stepName, phase, data: { reason, interventionId } },
      { type: 'intervention.opened', step: stepName, phase, data: { interventionId, reason } },
    ],
    intervention: { open: { id: interventionId, reason, step: stepName, phase } },
  }
}
