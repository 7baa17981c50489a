import { v7 as uuidv7 } from 'uuid'
import { recordAudit } from '../db/audit.js'
import type { StoredDefinition } from '../db/definitions.js'
import { insertFork, keyTaken } from '../db/repairs.js'
import { ChangedError, ConflictError, NotFoundError, UsageError } from '../errors.js'
import type { ActionContext } from './actions.js'
import type { SagaDefinition } from './definition.js'
import { inCompensation, refuse, type Refusal } from './eligibility.js'
import type { Engine } from './engine.js'
import { stepKey } from './planner.js'
import { MAX_INPUT_BYTES, MAX_KEY_LENGTH } from './limits.js'
import { refuseBlankActor } from './operator.js'
import { auditValue, refuseUnstorable } from './repair-values.js'
import type { Saga, StepRecord } from './types.js'

/**
 * `saga fork`: a new saga that starts at a step of an existing one, the steps before it
 * counting as done with the original's outputs (never called again), linked both ways
 * by `forkedFrom`. The original is not changed.
 */

/** `--version N|latest`; undefined: the version the saga is on. */
export type VersionChoice = number | 'latest'

export interface ForkPlanStep {
  step: string
  index: number
  /** `keep`: done, with the original's output, never called; `call`: the fork calls it. */
  action: 'keep' | 'call'
  /** The original's status of this step's action (null: never reached, or not in its version). */
  status: StepRecord['status'] | null
}

export interface ForkPlan {
  /** The original. */
  sagaId: string
  status: Saga['status']
  definition: string
  /** The original's version, and the fork's. */
  fromVersion: number
  version: number
  fromStep: string
  /** The fork's start key: none unless given. */
  key: string | null
  inputReplaced: boolean
  allowed: boolean
  /** Why the fork would be refused, as the engine would say it; null when allowed. */
  refusal: string | null
  /** The fork's steps, in its version's order. */
  steps: ForkPlanStep[]
}

export interface ForkOptions extends ActionContext {
  /** Default: the first step (nothing kept). */
  fromStep?: string
  /** The fork's input; default the original's. */
  input?: unknown
  version?: VersionChoice
  /** The fork's start key; default none (the original keeps its key). */
  key?: string
}

/** The definition a version choice names; `current` when none is given. */
export async function chosenDefinition(engine: Engine, name: string, choice: VersionChoice | undefined, current: number): Promise<StoredDefinition> {
  if (choice === undefined) return engine.defs.get(name, current)
  if (choice === 'latest') return engine.defs.latest(name)
  return engine.defs.latest(name, choice)
}

/** `3` or `latest`, as a flag or request field gives it. */
export function parseVersionChoice(text: string, what = '--version'): VersionChoice {
  if (text === 'latest') return 'latest'
  if (!/^[1-9][0-9]{0,8}$/.test(text)) throw new UsageError(`${what} must be a version number or "latest", got "${text}"`)
  return Number(text)
}

function fromIndex(def: SagaDefinition, name: string, version: number, fromStep: string | undefined): number {
  if (fromStep === undefined) return 0
  const i = def.steps.findIndex((s) => s.name === fromStep)
  if (i === -1) throw new UsageError(`${name}@${version} has no step "${fromStep}" (steps: ${def.steps.map((s) => s.name).join(', ')})`)
  return i
}

/** Why forking the original at step `from` of `target` is refused, or null. */
export function forkRefusal(original: Saga, originalDef: SagaDefinition, records: StepRecord[], target: { spec: SagaDefinition; version: number }, from: number): Refusal {
  const byKey = new Map(records.map((r) => [stepKey(r.index, r.phase), r]))
  const fromName = target.spec.steps[from]!.name
  for (let i = 0; i < from; i++) {
    const name = target.spec.steps[i]!.name
    const hint = `fork from "${name}" or an earlier step`
    const old = originalDef.steps.findIndex((s) => s.name === name)
    if (old === -1) return `has no step "${name}" (version ${target.version} has it before "${fromName}"): ${hint}`
    const action = byKey.get(stepKey(old, 'action'))
    if (action?.status !== 'succeeded' && action?.status !== 'skipped') return `has not finished step "${name}": ${hint}`
    if ((byKey.get(stepKey(old, 'compensation'))?.attempts ?? 0) > 0) return `has already compensated step "${name}" (its effect may be undone): ${hint}`
    if (inCompensation(original) && original.compensationPlan?.includes(old)) return `is compensating and will undo step "${name}": ${hint}`
  }
  return null
}

interface Prepared {
  plan: ForkPlan
  refusal: Refusal
  from: number
  kept: Array<{ oldIndex: number; newIndex: number }>
}

function prepare(original: Saga, originalDef: SagaDefinition, records: StepRecord[], opts: Omit<ForkOptions, 'operator'>, target: StoredDefinition): Prepared {
  const from = fromIndex(target.spec, target.name, target.version, opts.fromStep)
  const refusal = forkRefusal(original, originalDef, records, target, from)
  const byKey = new Map(records.map((r) => [stepKey(r.index, r.phase), r]))
  const kept: Prepared['kept'] = []
  const steps = target.spec.steps.map((s, i): ForkPlanStep => {
    const old = originalDef.steps.findIndex((o) => o.name === s.name)
    if (i < from && old !== -1) kept.push({ oldIndex: old, newIndex: i })
    return { step: s.name, index: i, action: i < from ? 'keep' : 'call', status: old === -1 ? null : (byKey.get(stepKey(old, 'action'))?.status ?? null) }
  })
  const plan: ForkPlan = {
    sagaId: original.id,
    status: original.status,
    definition: original.definition,
    fromVersion: original.version,
    version: target.version,
    fromStep: target.spec.steps[from]!.name,
    key: opts.key ?? null,
    inputReplaced: opts.input !== undefined,
    allowed: refusal === null,
    refusal: refusal && `saga ${original.id} ${refusal}`,
    steps,
  }
  return { plan, refusal, from, kept }
}

function checkKey(key: string | undefined): void {
  if (key === undefined) return
  if (key.trim() === '') throw new UsageError('the key is empty')
  if (key.length > MAX_KEY_LENGTH) throw new UsageError(`idempotency key is ${key.length} characters long: at most ${MAX_KEY_LENGTH}`)
}

/** The dry run: what the fork would keep and call, and whether it would be refused. Changes nothing. */
export async function forkPlan(engine: Engine, sagaId: string, opts: Omit<ForkOptions, 'operator'> = {}): Promise<ForkPlan> {
  checkKey(opts.key)
  if (opts.input !== undefined) refuseUnstorable('input', opts.input, MAX_INPUT_BYTES)
  const original = await engine.get(sagaId)
  const target = await chosenDefinition(engine, original.definition, opts.version, original.version)
  const originalDef = (await engine.defs.get(original.definition, original.version)).spec
  const { plan } = prepare(original, originalDef, await engine.store.stepsOf(sagaId), opts, target)
  if (plan.allowed && opts.key !== undefined) {
    const taken = await keyTaken(engine.db, opts.key)
    if (taken) return { ...plan, allowed: false, refusal: taken }
  }
  return plan
}

/**
 * Starts the fork, in one transaction with the checks: the original is locked (a
 * compensation cannot start under the fork's feet), its state checked again, the fork
 * and its kept steps inserted, an audit row written on the original.
 */
export async function forkSaga(engine: Engine, sagaId: string, opts: ForkOptions): Promise<{ saga: Saga; plan: ForkPlan }> {
  refuseBlankActor(opts)
  checkKey(opts.key)
  const first = await engine.get(sagaId)
  // Read before the transaction: the embedded database runs one statement at a time.
  const target = await chosenDefinition(engine, first.definition, opts.version, first.version)
  if (opts.input !== undefined) refuseUnstorable('input', opts.input, MAX_INPUT_BYTES)
  return engine.db.transaction(async (tx) => {
    const original = await engine.store.lockSaga(tx, sagaId)
    if (!original) throw new NotFoundError(`saga ${sagaId} not found`)
    if (opts.expectedRevision !== undefined && original.revision !== opts.expectedRevision) {
      throw new ChangedError(`saga ${sagaId} changed since you looked at it (revision ${opts.expectedRevision} -> ${original.revision}, now ${original.status})`)
    }
    const originalDef = (await engine.defs.get(original.definition, original.version, tx)).spec
    const p = prepare(original, originalDef, await engine.store.stepsOf(sagaId, tx), opts, target)
    refuse(original.id, p.refusal)
    if (opts.key !== undefined) {
      const taken = await keyTaken(tx, opts.key)
      if (taken) throw new ConflictError(taken, 'give the fork another --key, or none')
    }
    const input = opts.input === undefined ? original.input : opts.input
    const timeout = target.spec.timeout
    const keptNames = p.plan.steps.filter((s) => s.action === 'keep').map((s) => s.step)
    const saga = await insertFork(tx, engine.db.schema, {
      id: uuidv7(),
      original: original.id,
      definition: original.definition,
      version: target.version,
      input,
      key: opts.key ?? null,
      tags: original.tags,
      deadlineAt: timeout ? new Date(Date.now() + timeout) : null,
      fromIndex: p.from,
      fromName: p.plan.fromStep,
      kept: p.kept,
      eventData: { forkedFrom: original.id, fromStep: p.plan.fromStep, kept: keptNames, operator: opts.operator, reason: opts.reason ?? null },
    })
    await recordAudit(tx, {
      operator: opts.operator,
      action: 'saga.fork',
      target: saga.id,
      sagaId: original.id,
      reason: opts.reason ?? null,
      details: {
        fork: saga.id,
        fromStep: p.plan.fromStep,
        fromVersion: original.version,
        version: target.version,
        kept: keptNames,
        key: opts.key ?? null,
        ...(opts.input === undefined ? {} : { input: { old: auditValue(original.input), new: auditValue(opts.input) } }),
      },
    })
    return { saga, plan: p.plan }
  })
}
