// Order service: step 3, create-order, undone by cancelling it. A cancelled order stays
// on record (status cancelled), as a real order system would keep it.

import { readOrderInput } from './catalog.js'
import { isRecord, noop, ok, refused, type ServiceDefinition } from './harness.js'

export interface Order {
  id: string
  sagaId: string
  customerId: string
  items: Array<{ sku: string; qty: number }>
  amount: number
  reservationId: string | null
  status: 'created' | 'cancelled'
}

export interface OrderState {
  orders: Order[]
  cancellations: Array<{ sagaId: string; orderIds: string[]; noop: boolean }>
}

export function orderService(): ServiceDefinition & { state: OrderState } {
  const state: OrderState = { orders: [], cancellations: [] }
  let nextId = 1

  return {
    name: 'order',
    state,
    snapshot: () => structuredClone(state),
    routes: {
      '/orders': {
        phase: 'action',
        handle: (req) => {
          const input = readOrderInput(req.input)
          if (typeof input === 'string') return refused(422, 'invalid_input', input)
          // Earlier steps' outputs arrive in `results`: link the order to its reservation.
          const reserved = req.results['reserve-inventory']
          const reservationId = isRecord(reserved) && typeof reserved.reservationId === 'string' ? reserved.reservationId : null
          const order: Order = {
            id: `ord-${String(nextId++).padStart(6, '0')}`,
            sagaId: req.sagaId,
            customerId: input.customerId,
            items: input.items,
            amount: input.amount,
            reservationId,
            status: 'created',
          }
          state.orders.push(order)
          return ok({ orderId: order.id, status: order.status, amount: order.amount })
        },
      },
      '/orders/cancel': {
        phase: 'compensation',
        handle: (req) => {
          const open = state.orders.filter((o) => o.sagaId === req.sagaId && o.status === 'created')
          state.cancellations.push({ sagaId: req.sagaId, orderIds: open.map((o) => o.id), noop: open.length === 0 })
          if (open.length === 0) return noop('no open order for this saga')
          for (const o of open) o.status = 'cancelled'
          return ok({ cancelled: open.map((o) => o.id) })
        },
      },
    },
  }
}
