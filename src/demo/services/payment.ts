// Payment service: step 4, process-payment, undone by a refund. Each known customer has
// a balance; a charge takes the order amount from it and a refund puts it back.

import { CUSTOMERS, readOrderInput } from './catalog.js'
import { isRecord, noop, ok, refused, type ServiceDefinition } from './harness.js'

export interface Payment {
  id: string
  sagaId: string
  customerId: string
  orderId: string | null
  amount: number
  status: 'charged' | 'refunded'
}

export interface PaymentState {
  initialBalances: Record<string, number>
  balances: Record<string, number>
  payments: Payment[]
  refunds: Array<{ sagaId: string; paymentIds: string[]; amount: number; noop: boolean }>
}

export function paymentService(initialBalance: number): ServiceDefinition & { state: PaymentState } {
  const balances = Object.fromEntries(CUSTOMERS.map((c) => [c.id, initialBalance]))
  const state: PaymentState = { initialBalances: { ...balances }, balances, payments: [], refunds: [] }
  let nextId = 1

  return {
    name: 'payment',
    state,
    snapshot: () => structuredClone(state),
    routes: {
      '/payments/charge': {
        phase: 'action',
        refuse: () => refused(422, 'card_declined', 'the card issuer declined the charge'),
        handle: (req) => {
          const input = readOrderInput(req.input)
          if (typeof input === 'string') return refused(422, 'invalid_input', input)
          const balance = state.balances[input.customerId]
          if (balance === undefined) return refused(422, 'no_account', `no payment account for ${input.customerId}`)
          if (balance < input.amount) return refused(422, 'insufficient_funds', `balance ${balance} < ${input.amount}`)
          const created = req.results['create-order']
          const payment: Payment = {
            id: `pay-${String(nextId++).padStart(6, '0')}`,
            sagaId: req.sagaId,
            customerId: input.customerId,
            orderId: isRecord(created) && typeof created.orderId === 'string' ? created.orderId : null,
            amount: input.amount,
            status: 'charged',
          }
          state.balances[input.customerId] = balance - input.amount
          state.payments.push(payment)
          return ok({ paymentId: payment.id, amount: payment.amount, orderId: payment.orderId })
        },
      },
      '/payments/refund': {
        phase: 'compensation',
        // Refunds every charge of the saga, found by saga id: the charge's response may be lost.
        handle: (req) => {
          const charged = state.payments.filter((p) => p.sagaId === req.sagaId && p.status === 'charged')
          const amount = charged.reduce((sum, p) => sum + p.amount, 0)
          state.refunds.push({ sagaId: req.sagaId, paymentIds: charged.map((p) => p.id), amount, noop: charged.length === 0 })
          if (charged.length === 0) return noop('no charge for this saga')
          for (const p of charged) {
            p.status = 'refunded'
            state.balances[p.customerId] = (state.balances[p.customerId] ?? 0) + p.amount
          }
          return ok({ refunded: charged.map((p) => p.id), amount })
        },
      },
    },
  }
}
