import type { ErrorKind, EventType, Phase, SagaStatus, StepStatus } from './types.js'

/**
 * What one transition writes: the saga row, its step rows, its events and at most one
 * intervention change. The store writes any number of them in one statement.
 */

/** How a transition moves `due_at`: keep the lease time, run now, wait until `dueAt`, or stop being runnable. */
export type DueMode = 'keep' | 'now' | 'at' | 'none'

export interface SagaChange {
  status: SagaStatus
  stepIndex: number | null
  stepName: string | null
  due: DueMode
  dueAt?: Date | null
  /** Give up the lease (the saga waits, or is finished or suspended). */
  release: boolean
  compPlan?: number[] | null
  lastError: string | null
  /** Undefined keeps the current reason. */
  reason?: string | null
  finished?: boolean
  /** The participant a gate holds this saga back for; anything else (undefined) clears it. */
  waitingFor?: string | null
}

export interface StepWrite {
  index: number
  phase: Phase
  name: string
  status: StepStatus
  attempts: number
  output?: unknown
  lastError: string | null
  errorKind: ErrorKind | null
  started?: boolean
  finished?: boolean
}

export interface EventWrite {
  type: EventType
  step?: string | null
  phase?: Phase | null
  attempt?: number | null
  data?: Record<string, unknown> | null
}

export interface InterventionWrite {
  open?: { id: string; reason: string; step: string | null; phase: Phase | null }
  resolve?: { by: string; action: string; note: string | null }
}

export interface Transition {
  sagaId: string
  /** Operator transitions check the revision; worker transitions check the lease instead. */
  expectedRevision?: number
  saga: SagaChange
  steps: StepWrite[]
  events: EventWrite[]
  intervention?: InterventionWrite
}

