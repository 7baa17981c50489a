import type { Queryable } from '../db/types.js'
import { UsageError } from '../errors.js'
import type { ActionContext } from './actions.js'
import type { SagaDefinition } from './definition.js'
import { isFailing, leaseRefusal, refuse, type Refusal } from './eligibility.js'
import type { Engine } from './engine.js'
import { stepKey, type SagaView } from './planner.js'
import { auditValue, replaceInput } from './repair-values.js'
import { viewOf } from './runner.js'
import type { Transition } from './transition.js'
import type { Saga, StepRecord } from './types.js'

/**
 * `saga retry --from-step s`: step s and every step after it run again with fresh
 * attempts and a new idempotency key (`…:rerun-<n>`), the steps before s keep their
 * outputs. Engine operations, so the CLI, the console and an HTTP API all call these.
 */

export interface RerunPlanStep {
  step: string
  index: number
  /** `keep`: not called again, its output stays in `results`; `run`: called again. */
  action: 'keep' | 'run'
  /** The step's status now (null: never reached). */
  status: StepRecord['status'] | null
  /** The rerun number its next call's idempotency key will carry (0: never called, the plain key). */
  rerun: number
}

export interface RerunPlan {
  sagaId: string
  status: Saga['status']
  fromStep: string
  allowed: boolean
  /** Why the rerun would be refused, as the engine would say it; null when allowed. */
  refusal: string | null
  steps: RerunPlanStep[]
}

export interface RerunOptions extends ActionContext {
  fromStep: string
  /** Replaces the saga input before the rerun (audited old and new). */
  input?: unknown
}

function stepIndex(def: SagaDefinition, saga: Saga, name: string): number {
  const i = def.steps.findIndex((s) => s.name === name)
  if (i === -1) throw new UsageError(`${saga.definition}@${saga.version} has no step "${name}" (steps: ${def.steps.map((s) => s.name).join(', ')})`)
  return i
}

/** Why a rerun from step `from` is refused in the saga's state, or null. */
export function rerunRefusal(saga: Saga, def: SagaDefinition, view: SagaView, from: number, now: Date = new Date()): Refusal {
  switch (saga.status) {
    case 'pending':
      return 'has not started: there is nothing to run again'
    case 'compensated':
      return 'is compensated: its steps were undone; start a new saga instead'
    case 'failed':
      return 'is failed (aborted or unrecoverable): start a new saga instead'
    case 'running':
    case 'compensating':
      if (!isFailing(saga)) return `is ${saga.status} and not failing: a call may be in flight, wait until it fails or suspends`
  }
  const lease = leaseRefusal(saga, now)
  if (lease) return lease
  for (let i = 0; i < from; i++) {
    const name = def.steps[i]!.name
    const action = view.steps.get(stepKey(i, 'action'))
    if (action?.status !== 'succeeded' && action?.status !== 'skipped') {
      return `has not finished step "${name}" before "${def.steps[from]!.name}": rerun from "${name}" or an earlier step`
    }
    if ((view.steps.get(stepKey(i, 'compensation'))?.attempts ?? 0) > 0) {
      return `has already compensated step "${name}": rerun from "${name}" or an earlier step`
    }
  }
  return null
}

export async function rerunPlan(engine: Engine, sagaId: string, fromStep: string): Promise<RerunPlan> {
  const saga = await engine.get(sagaId)
  const def = (await engine.defs.get(saga.definition, saga.version)).spec
  const from = stepIndex(def, saga, fromStep)
  const records = await engine.store.stepsOf(sagaId)
  const { view } = viewOf(saga, records)
  const refusal = rerunRefusal(saga, def, view, from)
  const byKey = new Map(records.map((r) => [stepKey(r.index, r.phase), r]))
  const steps = def.steps.map((s, i): RerunPlanStep => {
    const rec = byKey.get(stepKey(i, 'action'))
    const called = (rec?.attempts ?? 0) > 0
    return { step: s.name, index: i, action: i < from ? 'keep' : 'run', status: rec?.status ?? null, rerun: i < from ? (rec?.rerun ?? 0) : (rec?.rerun ?? 0) + (called ? 1 : 0) }
  })
  return { sagaId, status: saga.status, fromStep, allowed: refusal === null, refusal: refusal && `saga ${saga.id} ${refusal}`, steps }
}

/** Resets step `from` and the steps after it (both phases); a step already called gets a new rerun number. */
async function resetSteps(tx: Queryable, saga: Saga, def: SagaDefinition, from: number): Promise<Record<string, unknown>> {
  const res = await tx.query<{ name: string; phase: string; output: unknown; rerun: number }>(
    `WITH old AS (SELECT step_index, phase, output FROM {{schema}}.steps WHERE saga_id = $1 AND step_index >= $2)
     UPDATE {{schema}}.steps t SET status = 'pending', rerun = t.rerun + CASE WHEN t.attempts > 0 THEN 1 ELSE 0 END, attempts = 0,
       last_error = NULL, error_kind = NULL, finished_at = NULL, updated_at = now()
     FROM old WHERE t.saga_id = $1 AND t.step_index = old.step_index AND t.phase = old.phase
     RETURNING t.name, t.phase, old.output, t.rerun`,
    [saga.id, from],
  )
  // A fresh deadline: a rerun of a saga past its deadline would otherwise roll back at once.
  const deadline = def.timeout ? new Date(Date.now() + def.timeout) : null
  await tx.query(`UPDATE {{schema}}.sagas SET finished_at = NULL, deadline_at = $2 WHERE id = $1`, [saga.id, deadline])
  const previous: Record<string, unknown> = {}
  for (const r of res.rows) if (r.phase === 'action') previous[r.name] = auditValue(r.output)
  return { fromStep: def.steps[from]!.name, previousOutputs: previous }
}

export async function rerunFromStep(engine: Engine, sagaId: string, opts: RerunOptions): Promise<Saga> {
  return engine.act(
    sagaId,
    opts,
    'saga.rerun',
    (saga, def, view): Transition => {
      const from = stepIndex(def, saga, opts.fromStep)
      refuse(saga.id, rerunRefusal(saga, def, view, from))
      const names = def.steps.slice(from).map((s) => s.name)
      return {
        sagaId: saga.id,
        saga: { status: 'running', stepIndex: from, stepName: def.steps[from]!.name, due: 'now', release: true, compPlan: null, lastError: null, reason: null },
        steps: [],
        events: [
          {
            type: 'saga.resumed',
            step: def.steps[from]!.name,
            phase: 'action',
            data: { action: 'rerun', from: saga.status, steps: names, operator: opts.operator, reason: opts.reason ?? null, ...(opts.input === undefined ? {} : { inputReplaced: true }) },
          },
        ],
      }
    },
    async (tx, saga, def) => {
      const details = await resetSteps(tx, saga, def, stepIndex(def, saga, opts.fromStep))
      return opts.input === undefined ? details : { ...details, ...(await replaceInput(tx, saga, opts.input)) }
    },
  )
}
