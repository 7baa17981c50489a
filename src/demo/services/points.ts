// Loyalty points service: step 5, update-customer-points, undone by revoking them.
// An append-only ledger, so the checker can see every award and revocation per saga.

import { readOrderInput } from './catalog.js'
import { noop, ok, refused, type ServiceDefinition } from './harness.js'

export interface PointsEntry {
  sagaId: string
  customerId: string
  delta: number
  kind: 'award' | 'revoke'
}

export interface PointsState {
  balances: Record<string, number>
  ledger: PointsEntry[]
  revocations: Array<{ sagaId: string; points: number; noop: boolean }>
}

/** One point per whole unit of the order amount. */
export function pointsFor(amount: number): number {
  return Math.floor(amount)
}

export function pointsService(): ServiceDefinition & { state: PointsState } {
  const state: PointsState = { balances: {}, ledger: [], revocations: [] }

  return {
    name: 'points',
    state,
    snapshot: () => structuredClone(state),
    routes: {
      '/points/award': {
        phase: 'action',
        refuse: () => refused(409, 'account_frozen', 'the loyalty account is frozen'),
        handle: (req) => {
          const input = readOrderInput(req.input)
          if (typeof input === 'string') return refused(422, 'invalid_input', input)
          const points = pointsFor(input.amount)
          state.ledger.push({ sagaId: req.sagaId, customerId: input.customerId, delta: points, kind: 'award' })
          const total = (state.balances[input.customerId] ?? 0) + points
          state.balances[input.customerId] = total
          return ok({ customerId: input.customerId, awarded: points, total })
        },
      },
      '/points/revoke': {
        phase: 'compensation',
        handle: (req) => {
          const entries = state.ledger.filter((e) => e.sagaId === req.sagaId)
          const net = entries.reduce((sum, e) => sum + e.delta, 0)
          state.revocations.push({ sagaId: req.sagaId, points: net, noop: net === 0 })
          const customerId = entries[0]?.customerId
          if (net === 0 || customerId === undefined) return noop('no points awarded for this saga')
          state.ledger.push({ sagaId: req.sagaId, customerId, delta: -net, kind: 'revoke' })
          state.balances[customerId] = (state.balances[customerId] ?? 0) - net
          return ok({ customerId, revoked: net, total: state.balances[customerId] })
        },
      },
    },
  }
}
