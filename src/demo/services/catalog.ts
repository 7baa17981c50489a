// The demo's fixed world: who can buy and what can be bought. Kept apart from the
// services so the demo command can generate valid saga inputs without starting anything.

import { sequence } from './rng.js'
import type { OrderInput } from './types.js'

export interface Customer {
  id: string
  name: string
  tier: 'standard' | 'gold'
  blocked: boolean
}

export const CUSTOMERS: readonly Customer[] = [
  { id: 'c-1001', name: 'Li Wei', tier: 'gold', blocked: false },
  { id: 'c-1002', name: 'Zhang Min', tier: 'standard', blocked: false },
  { id: 'c-1003', name: 'Wang Fang', tier: 'standard', blocked: false },
  { id: 'c-1004', name: 'Chen Jie', tier: 'gold', blocked: false },
  { id: 'c-1005', name: 'Liu Yang', tier: 'standard', blocked: false },
  { id: 'c-1006', name: 'Huang Lei', tier: 'standard', blocked: false },
  // A known but blocked customer: validation refuses them with 409.
  { id: 'c-9001', name: 'Blocked Buyer', tier: 'standard', blocked: true },
]

export interface Product {
  sku: string
  name: string
  price: number
}

export const PRODUCTS: readonly Product[] = [
  { sku: 'SKU-KEYBOARD', name: 'Mechanical keyboard', price: 89 },
  { sku: 'SKU-MOUSE', name: 'Wireless mouse', price: 25 },
  { sku: 'SKU-MONITOR', name: '27" monitor', price: 249 },
  { sku: 'SKU-CABLE', name: 'USB-C cable', price: 9 },
  { sku: 'SKU-HEADSET', name: 'Headset', price: 59 },
]

/** The n-th valid order of a seeded stream: an active customer, 1-3 lines, amount = sum of prices. */
export function makeOrderInput(n: number, seed = 1): OrderInput {
  const next = sequence(seed * 1_000_003 + n)
  const active = CUSTOMERS.filter((c) => !c.blocked)
  const customer = active[Math.floor(next() * active.length)] ?? active[0]!
  const lines = 1 + Math.floor(next() * 3)
  const items: OrderInput['items'] = []
  let amount = 0
  for (let i = 0; i < lines; i++) {
    const product = PRODUCTS[Math.floor(next() * PRODUCTS.length)] ?? PRODUCTS[0]!
    const qty = 1 + Math.floor(next() * 3)
    const line = items.find((it) => it.sku === product.sku)
    if (line) line.qty += qty
    else items.push({ sku: product.sku, qty })
    amount += product.price * qty
  }
  return { customerId: customer.id, items, amount }
}

/** The saga input as the services read it, or a message saying what is missing. */
export function readOrderInput(input: Record<string, unknown>): OrderInput | string {
  const { customerId, items, amount } = input
  if (typeof customerId !== 'string' || customerId === '') return 'input.customerId must be a string'
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) return 'input.amount must be a number >= 0'
  if (!Array.isArray(items) || items.length === 0) return 'input.items must be a non-empty list'
  const lines: OrderInput['items'] = []
  for (const item of items as unknown[]) {
    const { sku, qty } = (item ?? {}) as Record<string, unknown>
    if (typeof sku !== 'string' || typeof qty !== 'number' || !Number.isInteger(qty) || qty <= 0) {
      return 'each of input.items needs a sku and a positive integer qty'
    }
    lines.push({ sku, qty })
  }
  return { customerId, items: lines, amount }
}

export function findCustomer(id: string): Customer | undefined {
  return CUSTOMERS.find((c) => c.id === id)
}
