// The demo's referee: after a run, compares what the engine says happened to each saga
// with what the services actually did. A saga engine's promises (SPEC.md section 3) are
// only worth something if the world ends up this way.

import type { CustomerState } from './customer.js'
import type { InventoryState } from './inventory.js'
import type { NotificationState } from './notification.js'
import type { OrderState } from './order.js'
import type { PaymentState } from './payment.js'
import { pointsFor, type PointsState } from './points.js'
import { readOrderInput } from './catalog.js'
import type { CallRecord, ConsistencyCheck, ConsistencyReport, SagaOutcome } from './types.js'

export interface ServiceStates {
  customer: CustomerState
  inventory: InventoryState
  order: OrderState
  payment: PaymentState
  points: PointsState
  notification: NotificationState
}

/** At most this many offenders are named per row; the count says how many there were. */
const MAX_NAMED = 5

export function checkConsistency(
  states: ServiceStates,
  allCalls: readonly CallRecord[],
  all: readonly SagaOutcome[],
): ConsistencyReport {
  // A step skipped by hand counts as done though its service never acted: an operator's
  // sagas are reported on their own row, not judged against the services.
  const touched = all.filter((o) => o.operatorActions?.length)
  const outcomes = all.filter((o) => !o.operatorActions?.length)
  const byHand = new Set(touched.map((o) => o.sagaId))
  const calls = allCalls.filter((c) => !byHand.has(c.sagaId))
  const completed = outcomes.filter((o) => o.status === 'completed')
  const compensated = outcomes.filter((o) => o.status === 'compensated')
  const { inventory, order, payment, points, notification } = states
  const reservationsOf = (id: string) => inventory.reservations.filter((r) => r.sagaId === id)
  const ordersOf = (id: string) => order.orders.filter((o) => o.sagaId === id)
  const paymentsOf = (id: string) => payment.payments.filter((p) => p.sagaId === id)
  const pointsOf = (id: string) => points.ledger.filter((e) => e.sagaId === id)

  const checks: ConsistencyCheck[] = [
    perSaga('compensated: stock released', compensated, (s) => {
      const held = reservationsOf(s.sagaId).filter((r) => r.status === 'held')
      return held.length === 0 ? null : `${held.length} reservation(s) still held`
    }),
    perSaga('compensated: order cancelled or never created', compensated, (s) => {
      const open = ordersOf(s.sagaId).filter((o) => o.status === 'created')
      return open.length === 0 ? null : `order ${open.map((o) => o.id).join(', ')} still open`
    }),
    perSaga('compensated: net charge 0', compensated, (s) => {
      const net = sum(paymentsOf(s.sagaId).filter((p) => p.status === 'charged').map((p) => p.amount))
      return net === 0 ? null : `${net} still charged`
    }),
    perSaga('compensated: net points 0', compensated, (s) => {
      const net = sum(pointsOf(s.sagaId).map((e) => e.delta))
      return net === 0 ? null : `${net} points still awarded`
    }),
    perSaga('completed: one reservation held', completed, (s) => {
      const all = reservationsOf(s.sagaId)
      const held = all.filter((r) => r.status === 'held')
      if (all.length !== 1 || held.length !== 1) return `${all.length} reservation(s), ${held.length} held`
      const input = readOrderInput(s.input as Record<string, unknown>)
      if (typeof input !== 'string' && !sameItems(input.items, held[0]!.items)) return 'reserved items differ from the input'
      return null
    }),
    perSaga('completed: one order created', completed, (s) => {
      const all = ordersOf(s.sagaId)
      return all.length === 1 && all[0]!.status === 'created' ? null : `${all.length} order(s)${list(all.map((o) => `${o.id} ${o.status}`))}`
    }),
    perSaga('completed: charged once', completed, (s) => {
      const all = paymentsOf(s.sagaId)
      if (all.length !== 1 || all[0]!.status !== 'charged') return `${all.length} charge(s)${list(all.map((p) => `${p.amount} ${p.status}`))}`
      const amount = (s.input as Record<string, unknown>).amount
      return typeof amount !== 'number' || all[0]!.amount === amount ? null : `charged ${all[0]!.amount}, order amount ${amount}`
    }),
    perSaga('completed: points awarded once', completed, (s) => {
      const entries = pointsOf(s.sagaId)
      const awards = entries.filter((e) => e.kind === 'award')
      if (awards.length !== 1 || entries.length !== 1) return `${awards.length} award(s), ${entries.length - awards.length} revocation(s)`
      const amount = (s.input as Record<string, unknown>).amount
      return typeof amount !== 'number' || awards[0]!.delta === pointsFor(amount) ? null : `awarded ${awards[0]!.delta}, expected ${pointsFor(amount as number)}`
    }),
    perSaga('completed: one notification sent', completed, (s) => {
      const sent = notification.messages.filter((m) => m.sagaId === s.sagaId).length
      return sent === 1 ? null : `${sent} notification(s)`
    }),
    compensationsHaveActions(calls),
    oneKeyPerStepPhase(calls),
    stockConserved(inventory),
    balancesConserved(payment),
  ]

  const unchecked = outcomes.length - completed.length - compensated.length
  if (unchecked > 0) {
    checks.push({ check: 'sagas not finished cleanly', ok: true, detail: `${unchecked} saga(s) neither completed nor compensated; their state is not judged` })
  }
  if (touched.length > 0) {
    const named = touched.slice(0, MAX_NAMED).map((o) => `${o.sagaId} (${o.operatorActions!.map((a) => a.replace(/^saga\./, '')).join(', ')})`)
    checks.push({
      check: 'touched by an operator',
      ok: true,
      detail: `${touched.length} saga(s) an operator acted on by hand, not judged: ${named.join('; ')}${touched.length > MAX_NAMED ? ', …' : ''}`,
    })
  }
  return { ok: checks.every((c) => c.ok), checks }
}

/** One row from a per-saga predicate that returns a problem or null. */
function perSaga(check: string, sagas: readonly SagaOutcome[], problem: (s: SagaOutcome) => string | null): ConsistencyCheck {
  const bad: string[] = []
  for (const s of sagas) {
    const p = problem(s)
    if (p !== null) bad.push(`${s.sagaId}: ${p}`)
  }
  return row(check, bad, `${sagas.length} saga(s) checked`, sagas.length)
}

/**
 * SPEC.md 3.4: steps never attempted are never compensated. A compensation with nothing
 * to undo after an attempted action (a timeout, a 503) is legitimate and only counted.
 */
function compensationsHaveActions(calls: readonly CallRecord[]): ConsistencyCheck {
  const attempted = new Set(calls.filter((c) => c.phase === 'action').map((c) => `${c.sagaId}|${c.step}`))
  const compensations = calls.filter((c) => c.phase === 'compensation')
  const orphaned = new Set<string>()
  for (const c of compensations) {
    if (!attempted.has(`${c.sagaId}|${c.step}`)) orphaned.add(`${c.sagaId}: ${c.step} compensated (${c.service}${c.path}) but its action was never called`)
  }
  const noops = new Set(compensations.filter((c) => c.result === 'noop').map((c) => `${c.sagaId}|${c.step}`)).size
  const steps = new Set(compensations.map((c) => `${c.sagaId}|${c.step}`)).size
  return row('no compensation without its action', [...orphaned], `${steps} compensated step(s), ${noops} with nothing to undo`, steps)
}

/** SPEC.md 3.2: every call of one saga/step/phase carries `<sagaId>:<step>:<phase>`. */
function oneKeyPerStepPhase(calls: readonly CallRecord[]): ConsistencyCheck {
  const keys = new Map<string, Set<string>>()
  for (const c of calls) {
    const group = `${c.sagaId}:${c.step}:${c.phase}`
    const set = keys.get(group) ?? new Set<string>()
    set.add(c.idempotencyKey)
    keys.set(group, set)
  }
  const bad: string[] = []
  for (const [group, set] of keys) {
    if (set.size !== 1 || !set.has(group)) bad.push(`${group} called with ${[...set].map((k) => JSON.stringify(k)).join(', ')}`)
  }
  return row('one idempotency key per saga/step/phase', bad, `${keys.size} saga/step/phase group(s), ${calls.length} call(s)`, keys.size)
}

/** Stock that left the shelf is exactly what held reservations account for, sagas listed or not. */
function stockConserved(inventory: InventoryState): ConsistencyCheck {
  const bad: string[] = []
  for (const [sku, initial] of Object.entries(inventory.initialStock)) {
    const held = sum(inventory.reservations.filter((r) => r.status === 'held').flatMap((r) => r.items.filter((i) => i.sku === sku).map((i) => i.qty)))
    const now = inventory.stock[sku] ?? 0
    if (initial - now !== held) bad.push(`${sku}: ${initial - now} out of stock, ${held} held`)
  }
  const skus = Object.keys(inventory.initialStock).length
  return row('stock conserved', bad, `${skus} sku(s) balance`, skus)
}

/** Money that left a balance is exactly what unrefunded charges account for. */
function balancesConserved(payment: PaymentState): ConsistencyCheck {
  const bad: string[] = []
  for (const [customer, initial] of Object.entries(payment.initialBalances)) {
    const charged = sum(payment.payments.filter((p) => p.customerId === customer && p.status === 'charged').map((p) => p.amount))
    const now = payment.balances[customer] ?? 0
    if (initial - now !== charged) bad.push(`${customer}: ${initial - now} taken, ${charged} charged`)
  }
  const accounts = Object.keys(payment.initialBalances).length
  return row('balances conserved', bad, `${accounts} account(s) balance`, accounts)
}

function row(check: string, bad: string[], okDetail: string, total: number): ConsistencyCheck {
  if (bad.length === 0) return { check, ok: true, detail: okDetail }
  const named = bad.slice(0, MAX_NAMED).join('; ')
  const more = bad.length > MAX_NAMED ? `; … ${bad.length - MAX_NAMED} more` : ''
  return { check, ok: false, detail: `${bad.length} of ${total}: ${named}${more}` }
}

function sameItems(a: ReadonlyArray<{ sku: string; qty: number }>, b: ReadonlyArray<{ sku: string; qty: number }>): boolean {
  const total = (items: ReadonlyArray<{ sku: string; qty: number }>) => {
    const m = new Map<string, number>()
    for (const i of items) m.set(i.sku, (m.get(i.sku) ?? 0) + i.qty)
    return m
  }
  const ma = total(a)
  const mb = total(b)
  return ma.size === mb.size && [...ma].every(([sku, qty]) => mb.get(sku) === qty)
}

/** ": a, b" for a non-empty list, nothing otherwise. */
function list(items: readonly string[]): string {
  return items.length === 0 ? '' : `: ${items.join(', ')}`
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}
