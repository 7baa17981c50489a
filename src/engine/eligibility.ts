import { ConflictError } from '../errors.js'
import { TERMINAL_STATUSES, type Saga } from './types.js'

/**
 * Whether an operator action is allowed in a saga's current state, as pure functions of
 * the saga row. The engine refuses with exactly these reasons inside its transaction; plans,
 * dry runs, bulk questions and console dialogs ask the same functions first, so an offer
 * made to an operator is never refused for a reason it did not state.
 */

export type SagaState = Pick<Saga, 'status' | 'compensationPlan' | 'lastError'> & Partial<Pick<Saga, 'leaseOwner' | 'dueAt'>>

export type OperatorAction = 'retry' | 'compensate' | 'skip' | 'abort'

/** Why the action is refused, worded to follow `saga <id> `; null when allowed. */
export type Refusal = string | null

const isTerminal = (s: SagaState) => TERMINAL_STATUSES.includes(s.status)
export const isFailing = (s: SagaState) => (s.status === 'running' || s.status === 'compensating') && s.lastError !== null
export const inCompensation = (s: SagaState) => s.status === 'compensating' || (s.status === 'suspended' && s.compensationPlan !== null)

/** A worker holds the lease and may have a call in flight. */
export function leaseRefusal(s: SagaState, now: Date = new Date()): Refusal {
  if (s.leaseOwner && s.dueAt && s.dueAt > now) return `is being executed by worker ${s.leaseOwner}`
  return null
}

export function retryRefusal(s: SagaState, now: Date = new Date()): Refusal {
  if (s.status !== 'suspended' && !isFailing(s)) return `is ${s.status}${s.status === 'running' ? ' and not failing' : ''}: nothing to retry`
  return leaseRefusal(s, now)
}

export function skipRefusal(s: SagaState, now: Date = new Date()): Refusal {
  if (s.status !== 'suspended' && !isFailing(s)) return `is ${s.status}: only a failed step can be skipped`
  return leaseRefusal(s, now)
}

export function compensateRefusal(s: SagaState): Refusal {
  if (inCompensation(s)) return `is already compensating${s.status === 'suspended' ? ' (suspended in compensation: use retry or skip)' : ''}`
  if (isTerminal(s)) return `is ${s.status}: it cannot be compensated`
  return null
}

export function abortRefusal(s: SagaState): Refusal {
  return isTerminal(s) ? `is already ${s.status}` : null
}

export function refusalFor(action: OperatorAction, s: SagaState, now: Date = new Date()): Refusal {
  switch (action) {
    case 'retry':
      return retryRefusal(s, now)
    case 'skip':
      return skipRefusal(s, now)
    case 'compensate':
      return compensateRefusal(s)
    case 'abort':
      return abortRefusal(s)
  }
}

/** Throws the state conflict (exit 4) for a refusal; nothing has been changed when it does. */
export function refuse(sagaId: string, refusal: Refusal): void {
  if (refusal) throw new ConflictError(`saga ${sagaId} ${refusal}`)
}

export function deleteRefusal(s: Pick<Saga, 'status'>): Refusal {
  return TERMINAL_STATUSES.includes(s.status) ? null : `is ${s.status}: only a finished saga (completed, compensated or failed) can be deleted`
}
