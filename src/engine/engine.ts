import { randomBytes } from 'node:crypto'
import { v7 as uuidv7 } from 'uuid'
import { recordAudit } from '../db/audit.js'
import { SagaStore } from '../db/saga-store.js'
import type { Database, Queryable } from '../db/types.js'
import { ChangedError, ConflictError, NotFoundError, UsageError } from '../errors.js'
import type { ActionContext, CompensationPlan, OperatorActions } from './actions.js'
import type { SagaDefinition } from './definition.js'
import { DefinitionCache } from './definitions.js'
import { forkPlan, forkSaga, type ForkOptions, type ForkPlan, type VersionChoice } from './fork.js'
import { migratePlan, migrateSaga, type MigrateOptions, type MigratePlan } from './migrate.js'
import { unstorableJson } from './storable.js'
import { keepLeases } from './heartbeat.js'
import { pauseParticipant, resumeParticipant, type ParticipantSummary } from './participants/controls.js'
import { ParticipantGate } from './participants/gate.js'
import { abortRefusal, compensateRefusal, leaseRefusal, refuse, retryRefusal, skipRefusal } from './eligibility.js'
import { explainPlan, nextAfter, stepKey, startCompensation, type SagaView } from './planner.js'
import { MAX_INPUT_BYTES, MAX_KEY_LENGTH } from './limits.js'
import { refuseBlankActor } from './operator.js'
import { runSaga, viewOf, type RunnerContext } from './runner.js'
import { auditValue, refuseUnstorable, replaceInput } from './repair-values.js'
import { StartQueue } from './starts.js'
import { validateTags } from './search.js'
import type { Transition } from './transition.js'
import { TERMINAL_STATUSES, type InterventionAction, type Phase, type Saga } from './types.js'
import { TransitionWriter } from './writer.js'

export interface StartOptions {
  key?: string
  version?: number
  /** Business labels, searchable with `saga list --tag k=v`. */
  tags?: Record<string, string>
}

export interface RunOptions {
  defsDir?: string
  env?: NodeJS.ProcessEnv
  onTransition?: RunnerContext['onTransition']
  onCall?: RunnerContext['onCall']
  /** Stop waiting for retries after this; the saga stays where it is. */
  signal?: AbortSignal
  /** How long a claim lasts without a heartbeat (renewed every third of it while a call runs). */
  leaseMs?: number
}

export { MAX_KEY_LENGTH }

const isTerminal = (s: Saga['status']) => TERMINAL_STATUSES.includes(s)

/**
 * The engine API every command and the console go through: start and run sagas, and
 * the operator actions, each checked against the saga's state and revision in the same
 * transaction as its change.
 */
export class Engine implements OperatorActions {
  readonly store: SagaStore
  readonly defs: DefinitionCache
  private readonly starts: StartQueue

  constructor(readonly db: Database) {
    this.store = new SagaStore(db)
    this.defs = new DefinitionCache(db)
    this.starts = new StartQueue(this.store)
  }

  /** Enqueues a saga on the latest version (or `version`); the same key returns the saga it started before. */
  async start(definition: string, input: unknown, opts: StartOptions = {}): Promise<{ saga: Saga; created: boolean }> {
    // Checked before anything is written: an input too big to store or to send to every step is refused whole.
    const unstorable = unstorableJson(input ?? null, MAX_INPUT_BYTES)
    if (unstorable) throw new UsageError(`input ${unstorable}: nothing was started`)
    if (opts.key !== undefined && opts.key.length > MAX_KEY_LENGTH) {
      throw new UsageError(`idempotency key is ${opts.key.length} characters long: at most ${MAX_KEY_LENGTH}`, 'use a shorter key, or a hash of the long one')
    }
    const start = { definition, version: opts.version ?? null, input: input ?? null, key: opts.key ?? null, tags: validateTags(opts.tags) }
    // A concurrent start with the same key commits after this statement's snapshot was
    // taken: ON CONFLICT then skips, the fallback cannot see the row yet; the retry can.
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.starts.submit({ ...start, id: uuidv7() })
      if (found) {
        if (!found.created && found.saga.definition !== definition) {
          throw new ConflictError(`key "${opts.key}" already started saga ${found.saga.id} of definition "${found.saga.definition}"`)
        }
        return found
      }
      // Nothing written and no key to find: the definition or version is unknown, and this says which.
      if (start.key === null) break
      await this.defs.latest(definition, opts.version)
    }
    await this.defs.latest(definition, opts.version)
    throw new Error(start.key === null ? `saga of ${definition} could not be started` : `saga with key ${opts.key} could be neither inserted nor read`)
  }

  /**
   * Executes one saga in this process until it is finished or suspended, waiting out
   * retries in between (the wait itself is in the database: the lease is released).
   */
  async run(sagaId: string, opts: RunOptions = {}): Promise<Saga> {
    const owner = `run:${process.pid}:${randomBytes(3).toString('hex')}`
    const writer = new TransitionWriter(this.store, owner)
    const gate = new ParticipantGate(this.db, { owner })
    const ctx: RunnerContext = {
      gate,
      store: this.store,
      writer,
      defsDir: opts.defsDir ?? process.cwd(),
      env: opts.env,
      draining: () => opts.signal?.aborted ?? false,
      onTransition: opts.onTransition,
      onCall: opts.onCall,
    }
    const leaseMs = opts.leaseMs ?? 30_000
    const stopHeartbeat = keepLeases(this.store, owner, () => [sagaId], leaseMs)
    try {
      for (;;) {
        const current = await this.get(sagaId)
        if (isTerminal(current.status) || current.status === 'suspended' || opts.signal?.aborted) return current
        const [claimed] = await this.store.claim(owner, leaseMs, 1, sagaId)
        if (!claimed) {
          await sleep(waitMs(current), opts.signal)
          continue
        }
        const def = await this.defs.get(claimed.saga.definition, claimed.saga.version)
        const steps = await this.store.stepsOf(sagaId)
        await runSaga(ctx, def.spec, claimed.saga, steps, claimed.reclaimedFrom)
      }
    } finally {
      await gate.close()
      stopHeartbeat()
    }
  }

  forkPlan(sagaId: string, opts: Omit<ForkOptions, 'operator'> = {}): Promise<ForkPlan> {
    return forkPlan(this, sagaId, opts)
  }

  async fork(sagaId: string, ctx: ForkOptions): Promise<Saga> {
    return (await forkSaga(this, sagaId, ctx)).saga
  }

  migratePlan(sagaId: string, toVersion: VersionChoice): Promise<MigratePlan> {
    return migratePlan(this, sagaId, toVersion)
  }

  migrate(sagaId: string, ctx: MigrateOptions): Promise<Saga> {
    return migrateSaga(this, sagaId, ctx)
  }

  pauseParticipant(name: string, ctx: ActionContext & { reason: string }): Promise<ParticipantSummary> {
    return pauseParticipant(this.db, name, ctx)
  }

  resumeParticipant(name: string, ctx: ActionContext): Promise<ParticipantSummary> {
    return resumeParticipant(this.db, name, ctx)
  }

  async get(sagaId: string): Promise<Saga> {
    const saga = await this.store.get(sagaId)
    if (!saga) throw new NotFoundError(`saga ${sagaId} not found`)
    return saga
  }

  async compensationPlan(sagaId: string): Promise<CompensationPlan> {
    const saga = await this.get(sagaId)
    const def = await this.defs.get(saga.definition, saga.version)
    const { view } = viewOf(saga, await this.store.stepsOf(sagaId))
    const refusal = compensateRefusal(saga)
    return { sagaId, status: saga.status, allowed: refusal === null, refusal: refusal && `saga ${saga.id} ${refusal}`, steps: explainPlan(def.spec, view.steps) }
  }

  /** `input` replaces the saga input before it resumes (the audit row keeps both). */
  async retry(sagaId: string, ctx: ActionContext & { step?: string; input?: unknown }): Promise<Saga> {
    return this.act(sagaId, ctx, 'saga.retry', (saga, def, view) => {
      refuse(saga.id, retryRefusal(saga))
      const phase: Phase = saga.compensationPlan ? 'compensation' : 'action'
      const index = saga.stepIndex ?? 0
      const step = def.steps[index]!
      if (ctx.step && ctx.step !== step.name) throw new UsageError(`step "${ctx.step}" is not the failed step of saga ${saga.id} (it is "${step.name}")`)
      const rec = view.steps.get(stepKey(index, phase))
      const status = phase === 'compensation' ? 'compensating' : 'running'
      // A suspended step gets its retry policy afresh; a step waiting for its next attempt just goes now.
      const steps = saga.status === 'suspended' && rec
        ? [{ index, phase, name: step.name, status: 'pending' as const, attempts: 0, lastError: null, errorKind: null }]
        : []
      return {
        sagaId: saga.id,
        saga: { status, stepIndex: index, stepName: step.name, due: 'now', release: true, lastError: null },
        steps,
        events: [{ type: 'saga.resumed', step: step.name, phase, data: { action: 'retry', operator: ctx.operator, reason: ctx.reason ?? null, ...(ctx.input === undefined ? {} : { inputReplaced: true }) } }],
      }
    }, ctx.input === undefined ? undefined : (tx, saga) => replaceInput(tx, saga, ctx.input))
  }

  async compensate(sagaId: string, ctx: ActionContext): Promise<Saga> {
    return this.act(sagaId, ctx, 'saga.compensate', (saga, def, view) => {
      refuse(saga.id, compensateRefusal(saga))
      return startCompensation(def, view, ctx.reason ? `operator: ${ctx.reason}` : 'operator', { leased: false })
    })
  }

  /** `output` is recorded as the skipped action's output: later steps read it in `results`. */
  async skip(sagaId: string, ctx: ActionContext & { step: string; reason: string; output?: unknown }): Promise<Saga> {
    return this.act(sagaId, ctx, 'saga.skip', (saga, def, view) => {
      refuse(saga.id, skipRefusal(saga))
      const phase: Phase = saga.compensationPlan ? 'compensation' : 'action'
      const index = saga.stepIndex ?? 0
      const step = def.steps[index]!
      if (ctx.step !== step.name) throw new UsageError(`step "${ctx.step}" is not the failed step of saga ${saga.id} (it is "${step.name}")`)
      if (ctx.output !== undefined) refuseUnstorable('output', ctx.output)
      if (ctx.output !== undefined && phase === 'compensation') throw new UsageError(`saga ${saga.id} is compensating ${step.name}: --output applies to a skipped action, not a compensation`)
      const rec = view.steps.get(stepKey(index, phase))
      const next = nextAfter(def, view, index, phase)
      const output = ctx.output === undefined ? {} : { output: ctx.output }
      const skipped = { index, phase, name: step.name, status: 'skipped' as const, attempts: rec?.attempts ?? 0, lastError: null, errorKind: null, finished: true, ...output }
      const events: Transition['events'] = [{ type: 'step.skipped', step: step.name, phase, data: { operator: ctx.operator, reason: ctx.reason, ...(ctx.output === undefined ? {} : { output: auditValue(ctx.output) }) } }]
      if (next === null) {
        const status = phase === 'action' ? 'completed' : 'compensated'
        events.push({ type: phase === 'action' ? 'saga.completed' : 'saga.compensated' })
        return { sagaId: saga.id, saga: { status, stepIndex: null, stepName: null, due: 'none', release: true, lastError: null, finished: true }, steps: [skipped], events }
      }
      events.push({ type: 'saga.resumed', step: def.steps[next]!.name, phase, data: { action: 'skip', operator: ctx.operator } })
      return {
        sagaId: saga.id,
        saga: { status: phase === 'action' ? 'running' : 'compensating', stepIndex: next, stepName: def.steps[next]!.name, due: 'now', release: true, lastError: null },
        steps: [skipped],
        events,
      }
    }, ctx.output === undefined ? undefined : async () => ({ output: { new: auditValue(ctx.output) } }))
  }

  async abort(sagaId: string, ctx: ActionContext & { reason: string }): Promise<Saga> {
    return this.act(sagaId, ctx, 'saga.abort', (saga) => {
      refuse(saga.id, abortRefusal(saga))
      return {
        sagaId: saga.id,
        saga: { status: 'failed', stepIndex: saga.stepIndex, stepName: saga.currentStep, due: 'none', release: true, lastError: saga.lastError, reason: `aborted: ${ctx.reason}`, finished: true },
        steps: [],
        events: [{ type: 'saga.failed', data: { reason: ctx.reason, operator: ctx.operator, aborted: true } }],
      }
    })
  }

  async resolveIntervention(interventionId: string, ctx: ActionContext & { action: InterventionAction; note: string }): Promise<Saga> {
    const res = await this.db.query<{ saga_id: string; status: string }>(`SELECT saga_id, status FROM {{schema}}.interventions WHERE id = $1`, [interventionId])
    const row = res.rows[0]
    if (!row) throw new NotFoundError(`intervention ${interventionId} not found`)
    if (row.status !== 'open') throw new ConflictError(`intervention ${interventionId} is already resolved`)
    const saga = await this.get(row.saga_id)
    if (saga.status !== 'suspended') throw new ConflictError(`saga ${saga.id} is ${saga.status}, not suspended`)
    const reason = ctx.reason ?? ctx.note
    const resolved = { ...ctx, reason, resolution: { intervention: interventionId, action: ctx.action, note: ctx.note } }
    switch (ctx.action) {
      case 'retry':
        return this.retry(saga.id, resolved)
      case 'skip':
        return this.skip(saga.id, { ...resolved, step: saga.currentStep ?? '' })
      case 'compensate':
        return this.compensate(saga.id, resolved)
      case 'abort':
        return this.abort(saga.id, resolved)
    }
  }

  /**
   * One operator action: lock the saga, check its revision and state, write the
   * transition, resolve an open intervention, and record the audit row, in one transaction.
   */
  async act(
    sagaId: string,
    ctx: ActionContext & { resolution?: { intervention: string; action: string; note: string } },
    action: string,
    decide: (saga: Saga, def: SagaDefinition, view: SagaView) => Transition,
    /** Writes what a transition cannot (input, deadline, step resets) in the same transaction; returns audit details. */
    alsoWrite?: (tx: Queryable, saga: Saga, def: SagaDefinition) => Promise<Record<string, unknown>>,
    /** An action that does not resume the saga (a move to another version) leaves its open intervention open. */
    opts: { keepIntervention?: boolean } = {},
  ): Promise<Saga> {
    refuseBlankActor(ctx)
    return this.db.transaction(async (tx) => {
      const saga = await this.store.lockSaga(tx, sagaId)
      if (!saga) throw new NotFoundError(`saga ${sagaId} not found`)
      if (ctx.expectedRevision !== undefined && saga.revision !== ctx.expectedRevision) {
        throw new ChangedError(`saga ${sagaId} changed since you looked at it (revision ${ctx.expectedRevision} -> ${saga.revision}, now ${saga.status})`)
      }
      if (action === 'saga.retry' || action === 'saga.skip') refuse(sagaId, leaseRefusal(saga))
      const def = await this.defs.get(saga.definition, saga.version, tx)
      const { view } = viewOf(saga, await this.store.stepsOf(sagaId, tx))
      const t = decide(saga, def.spec, view)
      t.expectedRevision = saga.revision
      const actionName = action.split('.')[1]!
      if ((saga.status === 'suspended' && !opts.keepIntervention) || ctx.resolution) {
        t.intervention = { ...t.intervention, resolve: { by: ctx.operator, action: ctx.resolution?.action ?? actionName, note: ctx.resolution?.note ?? ctx.reason ?? null } }
        t.events.push({ type: 'intervention.resolved', data: { action: ctx.resolution?.action ?? actionName, operator: ctx.operator, note: ctx.resolution?.note ?? ctx.reason ?? null } })
      }
      const applied = await this.store.apply([t], 'operator', tx)
      if (!applied.has(sagaId)) throw new ChangedError(`saga ${sagaId} changed while acting on it`)
      const extra = alsoWrite ? await alsoWrite(tx, saga, def.spec) : {}
      await recordAudit(tx, {
        operator: ctx.operator,
        action: ctx.resolution ? 'intervention.resolve' : action,
        target: ctx.resolution?.intervention ?? sagaId,
        sagaId,
        reason: ctx.reason ?? null,
        details: { from: saga.status, to: t.saga.status, revision: saga.revision, ...(ctx.resolution ? { action: ctx.resolution.action, note: ctx.resolution.note } : {}), ...extra },
      })
      const after = await this.store.get(sagaId, tx)
      return after!
    })
  }

}

function waitMs(saga: Saga): number {
  if (!saga.dueAt) return 200
  return Math.min(5_000, Math.max(5, saga.dueAt.getTime() - Date.now()))
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })
}
