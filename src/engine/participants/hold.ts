import type { SagaDefinition } from '../definition.js'
import type { SagaView, Work } from '../planner.js'
import type { Transition } from '../transition.js'
import type { Hold } from './gate.js'

/**
 * A saga the gate held back: it waits in the database until `hold.until` (its deadline,
 * if sooner, still applies), writes no step and so uses no attempt, and names the
 * participant it waits for. A pending saga counts as started, so its deadline applies too.
 * Only the first hold in a row is journalled; rechecks just move `due_at`.
 */
export function holdTransition(def: SagaDefinition, v: SagaView, work: Work, hold: Hold, lastError: string | null, first: boolean): Transition {
  const starting = v.status === 'pending'
  const status = starting ? 'running' : v.status
  let at = hold.until
  if (status === 'running' && v.deadlineAt && at > v.deadlineAt) at = v.deadlineAt
  const index = starting ? 0 : v.stepIndex
  const events: Transition['events'] = starting ? [{ type: 'saga.started' }] : []
  if (first || starting) {
    events.push({ type: 'step.waiting', step: work.step.name, phase: work.phase, data: { participant: hold.participant, state: hold.state, until: at.toISOString() } })
  }
  return {
    sagaId: v.id,
    saga: {
      status,
      stepIndex: index,
      stepName: index === null ? null : (def.steps[index]?.name ?? null),
      due: 'at',
      dueAt: at,
      release: true,
      lastError,
      waitingFor: hold.participant,
    },
    steps: [],
    events,
  }
}
