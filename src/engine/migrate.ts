import type { StoredDefinition } from '../db/definitions.js'
import { moveToVersion } from '../db/repairs.js'
import type { ActionContext } from './actions.js'
import type { SagaDefinition } from './definition.js'
import { inCompensation, leaseRefusal, refuse, type Refusal } from './eligibility.js'
import type { Engine } from './engine.js'
import { refuseBlankActor } from './operator.js'
import { chosenDefinition, type VersionChoice } from './fork.js'
import type { SagaView } from './planner.js'
import type { Transition } from './transition.js'
import { TERMINAL_STATUSES, type Saga, type StepRecord } from './types.js'

/**
 * `saga migrate`: a saga continues on another version of its definition, its steps
 * mapped by name. Its next call uses the new version's URLs, timeouts and retry
 * policies; what already ran is kept. Refused when the new version cannot continue the
 * history the saga has.
 */

export interface MigratePlanStep {
  step: string
  /** Its index in the saga's version and in the new one (null: not there). */
  from: number | null
  to: number | null
  /** An action or compensation of it was called (or it was skipped): its place in the history is fixed. */
  ran: boolean
  /** The step's definition (URL, timeout, retry, compensation) differs between the two versions. */
  changed: boolean
}

export interface MigratePlan {
  sagaId: string
  status: Saga['status']
  definition: string
  fromVersion: number
  toVersion: number
  /** The step the saga continues with (null: it has not started, or nothing is left). */
  currentStep: string | null
  allowed: boolean
  refusal: string | null
  /** The new version's steps in order, then the steps it drops. */
  steps: MigratePlanStep[]
}

export interface MigrateOptions extends ActionContext {
  toVersion: VersionChoice
}

/** What the checks need of a step row. */
export type MigrateStepState = Pick<StepRecord, 'index' | 'status' | 'attempts'>

const hasRun = (r: MigrateStepState) => r.attempts > 0 || r.status === 'succeeded' || r.status === 'skipped' || r.status === 'failed'

/** What the saga row alone tells (the bulk form asks it before the question); the engine checks the steps too. */
export function migrateRowRefusal(saga: Saga, version: number, now: Date = new Date()): Refusal {
  if (saga.version === version) return `is already on version ${version}`
  if (TERMINAL_STATUSES.includes(saga.status)) return `is ${saga.status}: it has nothing left to run on another version`
  const lease = leaseRefusal(saga, now)
  return lease && `${lease}: a call may be in flight, wait until it is handed back`
}

/** Why the saga cannot move from `oldDef` to `target`, or null. */
export function migrateRefusal(saga: Saga, oldDef: SagaDefinition, target: { spec: SagaDefinition; version: number }, records: MigrateStepState[], now: Date = new Date()): Refusal {
  const v = target.version
  const newDef = target.spec
  const row = migrateRowRefusal(saga, v, now)
  if (row) return row
  const inFlight = records.find((r) => r.status === 'running')
  if (inFlight) return `has a call to step "${oldDef.steps[inFlight.index]!.name}" in flight: wait until its outcome is recorded`
  const indexIn = (name: string) => newDef.steps.findIndex((s) => s.name === name)
  const ran = [...new Set(records.filter(hasRun).map((r) => r.index))].sort((a, b) => a - b).map((i) => oldDef.steps[i]!.name)
  let last: string | null = null
  for (const name of ran) {
    const to = indexIn(name)
    if (to === -1) return `already ran step "${name}", which version ${v} does not have`
    if (last !== null && to < indexIn(last)) return `ran "${last}" before "${name}", but version ${v} moves "${name}" before "${last}"`
    last = name
  }
  const current = saga.stepIndex === null ? null : oldDef.steps[saga.stepIndex]!.name
  if (current !== null && indexIn(current) === -1) return `is at step "${current}", which version ${v} does not have`
  if (inCompensation(saga)) {
    for (const i of saga.compensationPlan ?? []) {
      const name = oldDef.steps[i]!.name
      if (!newDef.steps[indexIn(name)]?.compensation) return `would compensate "${name}", which has no compensation in version ${v}`
    }
  } else if (current !== null) {
    // A step that ran, put after the current one, would be called again.
    const again = ran.find((name) => name !== current && indexIn(name) > indexIn(current))
    if (again) return `already ran step "${again}", but version ${v} has it after "${current}", where the saga is: it would run again`
    // A step the new version puts before the current one would never run.
    const skipped = newDef.steps.slice(0, indexIn(current)).find((s) => !ran.includes(s.name))
    if (skipped) return `would never run step "${skipped.name}": version ${v} has it before "${current}", where the saga is`
  }
  return null
}

export function migratePlanOf(saga: Saga, oldDef: SagaDefinition, target: StoredDefinition, records: StepRecord[]): MigratePlan {
  const refusal = migrateRefusal(saga, oldDef, target, records)
  const ranAt = new Set(records.filter(hasRun).map((r) => r.index))
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
  const steps: MigratePlanStep[] = target.spec.steps.map((s, to) => {
    const from = oldDef.steps.findIndex((o) => o.name === s.name)
    return { step: s.name, from: from === -1 ? null : from, to, ran: from !== -1 && ranAt.has(from), changed: from === -1 || !same(oldDef.steps[from], s) }
  })
  oldDef.steps.forEach((s, from) => {
    if (!target.spec.steps.some((n) => n.name === s.name)) steps.push({ step: s.name, from, to: null, ran: ranAt.has(from), changed: true })
  })
  return {
    sagaId: saga.id,
    status: saga.status,
    definition: saga.definition,
    fromVersion: saga.version,
    toVersion: target.version,
    currentStep: saga.currentStep,
    allowed: refusal === null,
    refusal: refusal && `saga ${saga.id} ${refusal}`,
    steps,
  }
}

/** The dry run. Changes nothing. */
export async function migratePlan(engine: Engine, sagaId: string, toVersion: VersionChoice): Promise<MigratePlan> {
  const saga = await engine.get(sagaId)
  const oldDef = (await engine.defs.get(saga.definition, saga.version)).spec
  const target = await chosenDefinition(engine, saga.definition, toVersion, saga.version)
  return migratePlanOf(saga, oldDef, target, await engine.store.stepsOf(sagaId))
}

/**
 * The deadline on the new version: moved by the difference of the two timeouts; a
 * version that adds a timeout counts it from now, one without a timeout has no deadline.
 */
function movedDeadline(saga: Saga, oldDef: SagaDefinition, newDef: SagaDefinition, now: number): Date | null {
  if (!newDef.timeout) return null
  if (saga.deadlineAt && oldDef.timeout) return new Date(saga.deadlineAt.getTime() + newDef.timeout - oldDef.timeout)
  return new Date(now + newDef.timeout)
}

/** Moves the saga; an open intervention stays open (the saga is not resumed). */
export async function migrateSaga(engine: Engine, sagaId: string, opts: MigrateOptions): Promise<Saga> {
  refuseBlankActor(opts)
  const first = await engine.get(sagaId)
  // Read before the transaction: the embedded database runs one statement at a time.
  const target = await chosenDefinition(engine, first.definition, opts.toVersion, first.version)
  const map: Array<{ oldIndex: number; newIndex: number }> = []
  return engine.act(
    sagaId,
    opts,
    'saga.migrate',
    (saga, oldDef, view): Transition => {
      refuse(saga.id, migrateRefusal(saga, oldDef, target, recordsOf(view)))
      const indexIn = (i: number) => target.spec.steps.findIndex((s) => s.name === oldDef.steps[i]!.name)
      for (const k of view.steps.keys()) {
        const i = Number(k.split(':')[0])
        if (indexIn(i) !== -1 && !map.some((m) => m.oldIndex === i)) map.push({ oldIndex: i, newIndex: indexIn(i) })
      }
      const stepIndex = saga.stepIndex === null ? null : indexIn(saga.stepIndex)
      return {
        sagaId: saga.id,
        saga: {
          status: saga.status,
          stepIndex,
          stepName: saga.currentStep,
          due: 'keep',
          release: false,
          ...(saga.compensationPlan ? { compPlan: saga.compensationPlan.map(indexIn) } : {}),
          lastError: saga.lastError,
          waitingFor: saga.waitingFor,
        },
        steps: [],
        events: [{ type: 'saga.migrated', step: saga.currentStep, data: { from: saga.version, to: target.version, operator: opts.operator, reason: opts.reason ?? null } }],
      }
    },
    async (tx, saga, oldDef) => {
      await moveToVersion(tx, saga.id, target.version, movedDeadline(saga, oldDef, target.spec, Date.now()), map)
      return { fromVersion: saga.version, toVersion: target.version, moved: map.filter((m) => m.oldIndex !== m.newIndex).map((m) => oldDef.steps[m.oldIndex]!.name) }
    },
    { keepIntervention: true },
  )
}

/** The step rows as the engine's view of the saga holds them (names come from the definition). */
function recordsOf(view: SagaView): MigrateStepState[] {
  return [...view.steps].map(([k, v]) => ({ index: Number(k.split(':')[0]), status: v.status, attempts: v.attempts }))
}
