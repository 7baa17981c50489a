import type { ForkOptions, ForkPlan, VersionChoice } from './fork.js'
import type { MigrateOptions, MigratePlan } from './migrate.js'
import type { InterventionAction, Saga } from './types.js'

/** Who does an operator action and why: recorded in the audit log with the action. */
export interface ActionContext {
  operator: string
  reason?: string
  /** The saga revision the operator looked at; a different one is a conflict (exit 4). */
  expectedRevision?: number
}

export interface CompensationPlanEntry {
  step: string
  index: number
  /** Position in the compensation order, 1-based; null for steps that will not be compensated. */
  order: number | null
  compensate: boolean
  why: string
}

export interface CompensationPlan {
  sagaId: string
  status: Saga['status']
  /** False when compensate would be refused in the saga's current state; `refusal` says why. */
  allowed: boolean
  refusal: string | null
  steps: CompensationPlanEntry[]
}

/**
 * The operator actions every command and the console go through. Each checks the
 * saga's state (and revision, when given) in the same transaction as its change, writes
 * the events and an audit row, and notifies after commit.
 */
export interface OperatorActions {
  retry(sagaId: string, ctx: ActionContext & { step?: string }): Promise<Saga>
  compensate(sagaId: string, ctx: ActionContext): Promise<Saga>
  compensationPlan(sagaId: string): Promise<CompensationPlan>
  skip(sagaId: string, ctx: ActionContext & { step: string; reason: string }): Promise<Saga>
  abort(sagaId: string, ctx: ActionContext & { reason: string }): Promise<Saga>
  /** A new saga from a step of this one (the dry run first: what it keeps and calls, and whether it is refused). */
  forkPlan(sagaId: string, opts: Omit<ForkOptions, 'operator'>): Promise<ForkPlan>
  fork(sagaId: string, ctx: ForkOptions): Promise<Saga>
  /** The saga moved to another version of its definition. */
  migratePlan(sagaId: string, toVersion: VersionChoice): Promise<MigratePlan>
  migrate(sagaId: string, ctx: MigrateOptions): Promise<Saga>
  resolveIntervention(interventionId: string, ctx: ActionContext & { action: InterventionAction; note: string }): Promise<Saga>
  /** Participant controls (audited like the saga actions); optional for embedders that act on sagas only. */
  pauseParticipant?(name: string, ctx: ActionContext & { reason: string }): Promise<unknown>
  resumeParticipant?(name: string, ctx: ActionContext): Promise<unknown>
}
