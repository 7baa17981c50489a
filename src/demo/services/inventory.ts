// Inventory service: step 2, reserve-inventory, undone by releasing the reservation.
// Stock is per sku; a reservation takes the units out of stock until it is released.

import { PRODUCTS, readOrderInput } from './catalog.js'
import { noop, ok, refused, type ServiceDefinition } from './harness.js'

export interface Reservation {
  id: string
  sagaId: string
  items: Array<{ sku: string; qty: number }>
  status: 'held' | 'released'
}

export interface InventoryState {
  initialStock: Record<string, number>
  stock: Record<string, number>
  reservations: Reservation[]
  releases: Array<{ sagaId: string; reservationIds: string[]; noop: boolean }>
}

export function inventoryService(initialStock: number): ServiceDefinition & { state: InventoryState } {
  const stock = Object.fromEntries(PRODUCTS.map((p) => [p.sku, initialStock]))
  const state: InventoryState = { initialStock: { ...stock }, stock, reservations: [], releases: [] }
  let nextId = 1

  return {
    name: 'inventory',
    state,
    snapshot: () => structuredClone(state),
    routes: {
      '/reservations': {
        phase: 'action',
        refuse: (req) => refused(409, 'out_of_stock', `not enough stock for ${describeItems(req.input)}`),
        handle: (req) => {
          const input = readOrderInput(req.input)
          if (typeof input === 'string') return refused(422, 'invalid_input', input)
          for (const { sku, qty } of input.items) {
            const available = state.stock[sku]
            if (available === undefined) return refused(422, 'unknown_sku', `no product ${sku}`)
            if (available < qty) return refused(409, 'out_of_stock', `${sku}: ${available} left, ${qty} wanted`)
          }
          for (const { sku, qty } of input.items) state.stock[sku] = (state.stock[sku] ?? 0) - qty
          const reservation: Reservation = {
            id: `res-${String(nextId++).padStart(6, '0')}`,
            sagaId: req.sagaId,
            items: input.items,
            status: 'held',
          }
          state.reservations.push(reservation)
          return ok({ reservationId: reservation.id, items: reservation.items })
        },
      },
      '/reservations/release': {
        phase: 'compensation',
        // By saga, not by the action's output: the action's response may have been lost.
        handle: (req) => {
          const held = state.reservations.filter((r) => r.sagaId === req.sagaId && r.status === 'held')
          state.releases.push({ sagaId: req.sagaId, reservationIds: held.map((r) => r.id), noop: held.length === 0 })
          if (held.length === 0) return noop('no reservation held for this saga')
          for (const r of held) {
            r.status = 'released'
            for (const { sku, qty } of r.items) state.stock[sku] = (state.stock[sku] ?? 0) + qty
          }
          return ok({ released: held.map((r) => r.id) })
        },
      },
    },
  }
}

function describeItems(input: Record<string, unknown>): string {
  const parsed = readOrderInput(input)
  return typeof parsed === 'string' ? 'this order' : parsed.items.map((i) => i.sku).join(', ')
}
