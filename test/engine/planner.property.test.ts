import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { SagaDefinition, StepDef } from '../../src/engine/definition.js'
import type { CallOutcome } from '../../src/engine/executors/types.js'
import { afterCall, nextStep, stepKey, type SagaView } from '../../src/engine/planner.js'
import type { Transition } from '../../src/engine/transition.js'

/**
 * The state machine of SPEC.md section 3, checked against random definitions and random
 * failure patterns: the saga is driven purely through nextStep/afterCall, exactly as a
 * worker does, and the final state and the compensations made are compared with what
 * the specification says they must be.
 */

type Kind = CallOutcome['kind']
const call = { module: './x.js', export: 'x' }
const policy = (maxAttempts: number) => ({ maxAttempts, backoff: 'fixed' as const, initialDelay: 10, maxDelay: 10, jitter: false })

const stepArb = fc.record({
  compensation: fc.boolean(),
  onFailure: fc.constantFrom<'compensate' | 'suspend'>('compensate', 'compensate', 'suspend'),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  compMaxAttempts: fc.integer({ min: 1, max: 3 }),
})
const outcomeArb = fc.constantFrom<Kind>('success', 'success', 'success', 'business', 'transient', 'transient', 'pending')

const scenarioArb = fc
  .array(stepArb, { minLength: 1, maxLength: 6 })
  .chain((steps) =>
    fc.record({
      steps: fc.constant(steps),
      reverseOrder: fc.boolean(),
      // Outcomes per step and phase, attempt by attempt (the last one repeats).
      action: fc.array(fc.array(outcomeArb, { minLength: 1, maxLength: 5 }), { minLength: steps.length, maxLength: steps.length }),
      compensation: fc.array(fc.array(outcomeArb, { minLength: 1, maxLength: 5 }), { minLength: steps.length, maxLength: steps.length }),
    }),
  )

function outcome(kind: Kind): CallOutcome {
  if (kind === 'success') return { kind, output: { ok: true } }
  return { kind, error: `${kind} failure` } as CallOutcome
}

function apply(v: SagaView, t: Transition): void {
  v.status = t.saga.status
  v.stepIndex = t.saga.stepIndex
  if (t.saga.compPlan !== undefined) v.compPlan = t.saga.compPlan
  for (const s of t.steps) v.steps.set(stepKey(s.index, s.phase), { status: s.status, attempts: s.attempts, errorKind: s.errorKind })
}

describe('planner properties', () => {
  it('final state, compensation set and order follow section 3 for any failure pattern', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const steps: StepDef[] = sc.steps.map((s, i) => ({
          name: `s${i}`,
          action: call,
          compensation: s.compensation ? call : undefined,
          timeout: 1000,
          retry: policy(s.maxAttempts),
          compensationRetry: policy(s.compMaxAttempts),
          onFailure: s.onFailure,
        }))
        const withComp = steps.map((s, i) => (s.compensation ? i : -1)).filter((i) => i >= 0)
        const order = sc.reverseOrder ? undefined : [...withComp].sort((a, b) => a - b).map((i) => `s${i}`)
        const def: SagaDefinition = { name: 'p', steps, compensationOrder: order }
        const v: SagaView = { id: 'saga', status: 'pending', stepIndex: null, compPlan: null, deadlineAt: null, steps: new Map() }
        const made: Array<{ i: number; phase: string; attempt: number; kind: Kind }> = []
        const polls = new Map<string, number>()
        const now = new Date()

        for (let guard = 0; guard < 500; guard++) {
          if (['completed', 'compensated', 'suspended', 'failed'].includes(v.status)) break
          const next = nextStep(def, v, now)
          if (next.kind === 'transition') {
            apply(v, next.transition)
            continue
          }
          if (next.start) apply(v, next.start)
          const { work } = next
          const script = (work.phase === 'action' ? sc.action : sc.compensation)[work.index]!
          // Count calls, not attempts: a 425 repeats the attempt number, so polls advance the script.
          const key = `${work.index}:${work.phase}`
          const n = polls.get(key) ?? 0
          polls.set(key, n + 1)
          // Bound 425 polling (the real bound is the saga deadline): after 3 polls, the script moves on.
          let kind = script[Math.min(n, script.length - 1)]!
          if (kind === 'pending' && n >= 3) kind = 'transient'
          made.push({ i: work.index, phase: work.phase, attempt: work.attempt, kind })
          apply(v, afterCall(def, v, work, outcome(kind), now, () => 0.5).transition)
        }

        const actions = made.filter((m) => m.phase === 'action')
        const comps = made.filter((m) => m.phase === 'compensation')
        // Attempts never exceed the policy, and 425 never uses one up.
        for (const m of made) {
          const s = steps[m.i]!
          expect(m.attempt).toBeLessThanOrEqual((m.phase === 'action' ? s.retry : s.compensationRetry).maxAttempts)
        }
        const last = (i: number) => actions.filter((a) => a.i === i).at(-1)
        const attemptedSteps = [...new Set(actions.map((a) => a.i))]
        const failedStep = attemptedSteps.find((i) => last(i)!.kind !== 'success')

        if (failedStep === undefined) {
          expect(v.status).toBe('completed')
          expect(attemptedSteps).toEqual(steps.map((_, i) => i))
          expect(comps).toEqual([])
          return
        }
        // Forward execution stops at the first failed step: nothing after it is ever called.
        expect(Math.max(...attemptedSteps)).toBe(failedStep)
        if (steps[failedStep]!.onFailure === 'suspend') {
          expect(v.status).toBe('suspended')
          expect(comps).toEqual([])
          return
        }
        // Every attempted step with a compensation, and only those: succeeded ones, and the
        // failed one unless it failed with a business error (the service did nothing).
        const expected = attemptedSteps.filter((i) => steps[i]!.compensation && (i !== failedStep || last(i)!.kind !== 'business'))
        const plan = sc.reverseOrder ? [...expected].sort((a, b) => b - a) : [...expected].sort((a, b) => a - b)
        const compStarted = [...new Set(comps.map((c) => c.i))]
        expect(new Set(compStarted)).toEqual(new Set(compStarted.filter((i) => expected.includes(i))))
        // Compensations run one after another in plan order; a compensation that fails for good suspends the saga.
        expect(compStarted).toEqual(plan.slice(0, compStarted.length))
        const lastComp = (i: number) => comps.filter((c) => c.i === i).at(-1)
        const stuck = compStarted.find((i) => lastComp(i)!.kind !== 'success')
        if (stuck === undefined) {
          expect(compStarted).toEqual(plan)
          expect(v.status).toBe('compensated')
        } else {
          expect(v.status).toBe('suspended')
          expect(compStarted.at(-1)).toBe(stuck)
        }
      }),
      { numRuns: 500 },
    )
  })
})
