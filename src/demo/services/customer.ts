// Customer service: step 1, validate-customer. Read-only, so it has no compensation;
// it only remembers what it answered, for the log and the checker.

import { findCustomer, readOrderInput } from './catalog.js'
import { ok, refused, type ServiceDefinition } from './harness.js'

export interface CustomerState {
  validations: Array<{ sagaId: string; customerId: string; valid: boolean; reason?: string }>
}

export function customerService(): ServiceDefinition & { state: CustomerState } {
  const state: CustomerState = { validations: [] }
  return {
    name: 'customer',
    state,
    snapshot: () => structuredClone(state),
    routes: {
      '/customers/validate': {
        phase: 'action',
        // Simulated by failureRate: the fraud check flags this order.
        refuse: () => refused(409, 'customer_flagged', 'the fraud check flagged this customer for review'),
        handle: (req) => {
          const input = readOrderInput(req.input)
          if (typeof input === 'string') return refused(422, 'invalid_input', input)
          const customer = findCustomer(input.customerId)
          const reject = (status: 409 | 422, error: string, message: string) => {
            state.validations.push({ sagaId: req.sagaId, customerId: input.customerId, valid: false, reason: error })
            return refused(status, error, message)
          }
          if (!customer) return reject(422, 'unknown_customer', `no customer ${input.customerId}`)
          if (customer.blocked) return reject(409, 'customer_blocked', `customer ${customer.id} is blocked`)
          state.validations.push({ sagaId: req.sagaId, customerId: customer.id, valid: true })
          return ok({ customerId: customer.id, name: customer.name, tier: customer.tier, valid: true })
        },
      },
    },
  }
}
