/** The saga model as the engine, the commands and the console see it (SPEC.md section 2). */

export type SagaStatus = 'pending' | 'running' | 'compensating' | 'suspended' | 'completed' | 'compensated' | 'failed'
export const SAGA_STATUSES: readonly SagaStatus[] = ['pending', 'running', 'compensating', 'suspended', 'completed', 'compensated', 'failed']
/** A worker may pick these up. */
export const ACTIVE_STATUSES: readonly SagaStatus[] = ['pending', 'running', 'compensating']
export const TERMINAL_STATUSES: readonly SagaStatus[] = ['completed', 'compensated', 'failed']

export type Phase = 'action' | 'compensation'
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped'
/** `failure`: a DTM participant answered FAILURE; unlike `business`, its compensation still runs. */
export type ErrorKind = 'business' | 'failure' | 'transient' | 'pending' | 'timeout'

export interface Saga {
  id: string
  definition: string
  version: number
  status: SagaStatus
  /** Name of the step being executed or compensated, null before the first and after the last. */
  currentStep: string | null
  stepIndex: number | null
  input: unknown
  key: string | null
  /** Business labels given at start (`--tag k=v`), searchable with `saga list --tag`. */
  tags: Record<string, string>
  /** The saga this one was forked from, if any. */
  forkedFrom: string | null
  /** Bumped by every transition; operator actions check it. */
  revision: number
  dueAt: Date | null
  leaseOwner: string | null
  deadlineAt: Date | null
  /** Step indexes to compensate, in order, once compensation has started. */
  compensationPlan: number[] | null
  lastError: string | null
  reason: string | null
  createdAt: Date
  updatedAt: Date
  finishedAt: Date | null
  /** The participant (paused, its circuit open, or at a limit) this saga waits for, without using attempts. */
  waitingFor: string | null
}

export interface StepRecord {
  sagaId: string
  index: number
  phase: Phase
  name: string
  status: StepStatus
  attempts: number
  /** Times an operator sent this step round again; part of its idempotency key when above 0. */
  rerun: number
  output: unknown
  lastError: string | null
  errorKind: ErrorKind | null
  startedAt: Date | null
  finishedAt: Date | null
  updatedAt: Date
}

/**
 * Journal entry types. `data` carries the details: step.failed {kind, error, retryAt?},
 * saga.compensating {reason, plan}, saga.suspended {reason, interventionId}, ...
 */
export type EventType =
  | 'saga.created'
  | 'saga.started'
  | 'saga.reclaimed'
  | 'step.started'
  | 'step.succeeded'
  | 'step.failed'
  | 'step.skipped'
  | 'step.waiting'
  | 'saga.compensating'
  | 'saga.suspended'
  | 'saga.resumed'
  | 'saga.migrated'
  | 'saga.completed'
  | 'saga.compensated'
  | 'saga.failed'
  | 'intervention.opened'
  | 'intervention.resolved'

export interface SagaEvent {
  id: number
  sagaId: string
  at: Date
  type: EventType
  step: string | null
  phase: Phase | null
  attempt: number | null
  data: Record<string, unknown> | null
}

export type InterventionAction = 'retry' | 'skip' | 'compensate' | 'abort'

export interface Intervention {
  id: string
  sagaId: string
  status: 'open' | 'resolved'
  reason: string
  step: string | null
  phase: Phase | null
  createdAt: Date
  resolvedAt: Date | null
  resolvedBy: string | null
  action: InterventionAction | null
  note: string | null
}

export interface AuditEntry {
  id: number
  at: Date
  operator: string
  action: string
  target: string
  sagaId: string | null
  reason: string | null
  details: Record<string, unknown> | null
}

/** What NOTIFY carries after a commit: the sagas that changed (or just a count when too many to list). */
export interface ChangeNotice {
  changes?: Array<{ id: string; status: SagaStatus; event: EventType; step: string | null }>
  count: number
}
