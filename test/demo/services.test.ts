import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  DEMO_ENV_VARS,
  demoEnv,
  makeOrderInput,
  startServices,
  type DemoServices,
  type OrderInput,
  type SagaOutcome,
  type StartOptions,
} from '../../src/demo/services/index.js'

let running: DemoServices | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

async function start(opts: StartOptions = {}): Promise<DemoServices> {
  running = await startServices(opts)
  return running
}

const INPUT: OrderInput = { customerId: 'c-1001', items: [{ sku: 'SKU-MOUSE', qty: 2 }, { sku: 'SKU-CABLE', qty: 1 }], amount: 59 }

interface Reply { status: number; body: any; headers: Headers }

/** One call as sagactl's http executor makes it. */
async function call(url: string, sagaId: string, step: string, phase: 'action' | 'compensation', opts: { input?: object; results?: object; attempt?: number; key?: string } = {}): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': opts.key ?? `${sagaId}:${step}:${phase}` },
    body: JSON.stringify({ sagaId, step, phase, attempt: opts.attempt ?? 1, input: opts.input ?? INPUT, results: opts.results ?? {} }),
  })
  return { status: res.status, body: await res.json(), headers: res.headers }
}

interface StepDef { name: string; action: { http: { url: string } }; compensation?: { http: { url: string } } }
const definition = parse(readFileSync(new URL('../../examples/order-checkout.yaml', import.meta.url), 'utf8')) as { name: string; steps: StepDef[] } & Record<string, unknown>

const resolve = (url: string, env: Record<string, string>) => url.replace(/\$\{env:([A-Z_]+)\}/g, (_, name: string) => env[name] ?? `<unset ${name}>`)

/** A deliberately tiny saga driver over the example definition: enough to exercise the services, not the engine. */
async function runSaga(svc: DemoServices, sagaId: string, input: OrderInput): Promise<SagaOutcome> {
  const env = demoEnv(svc.urls)
  const results: Record<string, unknown> = {}
  const attempted: StepDef[] = []
  const tryCall = async (url: string, step: string, phase: 'action' | 'compensation'): Promise<Reply | undefined> => {
    for (let attempt = 1; attempt <= 8; ) {
      const reply = await call(resolve(url, env), sagaId, step, phase, { input, results, attempt })
      if (reply.status !== 425) attempt++ // 425 does not use up an attempt
      if (reply.status < 300 || reply.status === 409 || reply.status === 422) return reply
    }
    return undefined
  }
  let failed = false
  for (const step of definition.steps) {
    attempted.push(step)
    const reply = await tryCall(step.action.http.url, step.name, 'action')
    if (reply?.status === 200) results[step.name] = reply.body
    else {
      if (reply) attempted.pop() // a business failure did nothing: nothing to compensate
      failed = true
      break
    }
  }
  if (!failed) return { sagaId, status: 'completed', input }
  for (const step of attempted.reverse()) {
    if (!step.compensation) continue
    const reply = await tryCall(step.compensation.http.url, step.name, 'compensation')
    if (reply?.status !== 200) return { sagaId, status: 'suspended', input }
  }
  return { sagaId, status: 'compensated', input }
}

describe('demo services', () => {
  it('binds every service on loopback and publishes an env var for each', async () => {
    const svc = await start()
    expect(Object.keys(svc.urls).sort()).toEqual(['customer', 'inventory', 'notification', 'order', 'payment', 'points'])
    for (const url of Object.values(svc.urls)) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(demoEnv(svc.urls)).toMatchObject({ DEMO_INVENTORY_URL: svc.urls.inventory, DEMO_PAYMENT_URL: svc.urls.payment })
  })

  it('undoes every action with its compensation', async () => {
    const svc = await start()
    const before = svc.snapshot()
    const u = svc.urls
    expect((await call(`${u.customer}/customers/validate`, 's1', 'validate-customer', 'action')).body).toMatchObject({ valid: true })
    const reserved = await call(`${u.inventory}/reservations`, 's1', 'reserve-inventory', 'action')
    expect(reserved.status).toBe(200)
    const order = await call(`${u.order}/orders`, 's1', 'create-order', 'action', { results: { 'reserve-inventory': reserved.body } })
    expect(order.body.orderId).toMatch(/^ord-/)
    expect((await call(`${u.payment}/payments/charge`, 's1', 'process-payment', 'action')).body).toMatchObject({ amount: 59 })
    expect((await call(`${u.points}/points/award`, 's1', 'update-customer-points', 'action')).body).toMatchObject({ awarded: 59 })

    const mid = svc.snapshot()
    expect(mid.inventory.stock['SKU-MOUSE']).toBe(before.inventory.stock['SKU-MOUSE']! - 2)
    expect(mid.payment.balances['c-1001']).toBe(before.payment.balances['c-1001']! - 59)
    expect(mid.order.orders[0]?.reservationId).toBe(reserved.body.reservationId)

    for (const [url, step] of [[`${u.points}/points/revoke`, 'update-customer-points'], [`${u.payment}/payments/refund`, 'process-payment'], [`${u.order}/orders/cancel`, 'create-order'], [`${u.inventory}/reservations/release`, 'reserve-inventory']] as const) {
      expect((await call(url, 's1', step, 'compensation')).status).toBe(200)
    }
    const after = svc.snapshot()
    expect(after.inventory.stock).toEqual(before.inventory.stock)
    expect(after.payment.balances).toEqual(before.payment.balances)
    expect(after.points.balances['c-1001']).toBe(0)
    expect(after.order.orders.map((o) => o.status)).toEqual(['cancelled'])
    expect(svc.checkConsistency([{ sagaId: 's1', status: 'compensated', input: INPUT }]).ok).toBe(true)
  })

  it('replays a repeated idempotency key without applying it again, compensations included', async () => {
    const svc = await start()
    const url = `${svc.urls.payment}/payments/charge`
    const first = await call(url, 's2', 'process-payment', 'action', { attempt: 1 })
    const second = await call(url, 's2', 'process-payment', 'action', { attempt: 2 })
    expect(second.status).toBe(first.status)
    expect(second.body).toEqual(first.body)
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    const refund1 = await call(`${svc.urls.payment}/payments/refund`, 's2', 'process-payment', 'compensation')
    const refund2 = await call(`${svc.urls.payment}/payments/refund`, 's2', 'process-payment', 'compensation', { attempt: 2 })
    expect(refund2.body).toEqual(refund1.body)
    const state = svc.snapshot().payment
    expect(state.payments).toHaveLength(1)
    expect(state.refunds).toHaveLength(1)
    expect(state.balances['c-1001']).toBe(state.initialBalances['c-1001'])
    expect(svc.calls.map((c) => c.result)).toEqual(['applied', 'replayed', 'applied', 'replayed'])
  })

  it('answers 425 to a duplicate that arrives while the first call is still running', async () => {
    const svc = await start({ latency: 60 })
    const url = `${svc.urls.inventory}/reservations`
    const [a, b] = await Promise.all([call(url, 's3', 'reserve-inventory', 'action'), call(url, 's3', 'reserve-inventory', 'action')])
    expect([a.status, b.status].sort()).toEqual([200, 425])
    expect(svc.snapshot().inventory.reservations).toHaveLength(1)
  })

  it('treats a compensation of an unapplied action as a recorded no-op, and refuses the late action', async () => {
    const svc = await start()
    const release = await call(`${svc.urls.inventory}/reservations/release`, 's4', 'reserve-inventory', 'compensation')
    expect(release).toMatchObject({ status: 200, body: { noop: true } })
    expect(svc.snapshot().inventory.releases).toEqual([{ sagaId: 's4', reservationIds: [], noop: true }])
    // The action arriving after its compensation must not leave stock reserved forever.
    const late = await call(`${svc.urls.inventory}/reservations`, 's4', 'reserve-inventory', 'action')
    expect(late).toMatchObject({ status: 409, body: { error: 'already_compensated' } })
    expect(svc.snapshot().inventory.reservations).toHaveLength(0)
  })

  it('gives business failures, stable across retries, when failureRate is 1', async () => {
    const svc = await start({ failureRate: 1 })
    const u = svc.urls
    const cases = [[`${u.customer}/customers/validate`, 'validate-customer', 409], [`${u.inventory}/reservations`, 'reserve-inventory', 409], [`${u.payment}/payments/charge`, 'process-payment', 422], [`${u.points}/points/award`, 'update-customer-points', 409]] as const
    for (const [url, step, status] of cases) {
      expect((await call(url, 's5', step, 'action')).status).toBe(status)
      expect((await call(url, 's5', step, 'action', { attempt: 2 })).status).toBe(status)
    }
    const state = svc.snapshot()
    expect(state.inventory.reservations).toHaveLength(0)
    expect(state.payment.payments).toHaveLength(0)
    expect(svc.calls.every((c) => c.result === 'refused' || c.result === 'replayed')).toBe(true)
  })

  it('fails compensations with 500 when compensationFailureRate is 1, until tuned back', async () => {
    const svc = await start({ compensationFailureRate: 1 })
    expect((await call(`${svc.urls.inventory}/reservations`, 's6', 'reserve-inventory', 'action')).status).toBe(200)
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect((await call(`${svc.urls.inventory}/reservations/release`, 's6', 'reserve-inventory', 'compensation', { attempt })).status).toBe(500)
    }
    expect(svc.snapshot().inventory.reservations[0]?.status).toBe('held')
    svc.tune({ compensationFailureRate: 0 }, 'inventory')
    expect((await call(`${svc.urls.inventory}/reservations/release`, 's6', 'reserve-inventory', 'compensation', { attempt: 4 })).status).toBe(200)
    expect(svc.snapshot().inventory.reservations[0]?.status).toBe('released')
  })

  it('catches a double charge and a compensation without its action', async () => {
    const svc = await start()
    const input = makeOrderInput(1)
    const outcome = await runSaga(svc, 's7', input)
    expect(outcome.status).toBe('completed')
    expect(svc.checkConsistency([outcome]).ok).toBe(true)

    // An engine bug: the same step retried under a fresh key charges twice.
    await call(`${svc.urls.payment}/payments/charge`, 's7', 'process-payment', 'action', { input, key: 's7:process-payment:action:retry' })
    // Another: compensating a step of a saga that never ran it.
    await call(`${svc.urls.order}/orders/cancel`, 's8', 'create-order', 'compensation')
    const report = svc.checkConsistency([outcome])
    expect(report.ok).toBe(false)
    const failed = Object.fromEntries(report.checks.filter((c) => !c.ok).map((c) => [c.check, c.detail]))
    expect(Object.keys(failed).sort()).toEqual(['completed: charged once', 'no compensation without its action', 'one idempotency key per saga/step/phase'])
    expect(failed['completed: charged once']).toContain('s7: 2 charge(s)')
    expect(failed['no compensation without its action']).toContain('s8: create-order')
  })

  it('reports a saga an operator skipped a step of on its own row instead of calling the engine inconsistent', async () => {
    const svc = await start()
    const input = makeOrderInput(2)
    const outcome = await runSaga(svc, 's9', input)
    // As after `k` in the console: the engine says the payment step is done, the service never charged.
    await call(`${svc.urls.payment}/payments/refund`, 's9', 'process-payment', 'compensation', { input })
    expect(svc.checkConsistency([outcome]).ok).toBe(false)
    const report = svc.checkConsistency([{ ...outcome, operatorActions: ['saga.skip'] }])
    expect(report.ok).toBe(true)
    expect(report.checks.find((c) => c.check === 'touched by an operator')?.detail).toContain('s9 (skip)')
  })

  it('adds the configured latency to every call', async () => {
    const svc = await start({ latency: 80 })
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now()
      await call(`${svc.urls.notification}/notifications`, `lat-${i}`, 'send-notification', 'action')
      expect(performance.now() - t0).toBeGreaterThanOrEqual(39) // 0.5x of 80, minus timer slack
    }
    expect(svc.calls.every((c) => c.durationMs >= 39)).toBe(true)
  })

  it('rejects malformed requests with 422 and logs them', async () => {
    const svc = await start()
    const res = await fetch(`${svc.urls.order}/orders`, { method: 'POST', body: '{"sagaId":"x"}' })
    expect(res.status).toBe(422)
    expect((await fetch(`${svc.urls.order}/nope`, { method: 'POST', body: '{}' })).status).toBe(404)
    expect(svc.calls).toHaveLength(1)
    expect(svc.calls[0]).toMatchObject({ result: 'invalid', status: 422 })
  })
})

describe('examples/order-checkout.yaml', () => {
  it('is the six-step definition, pointing at the demo env vars', () => {
    expect(definition).toMatchObject({ name: 'order-checkout', timeout: expect.any(String), defaults: { retry: expect.any(Object), compensationRetry: expect.any(Object) } })
    expect(definition.steps.map((s) => [s.name, s.compensation !== undefined])).toEqual([
      ['validate-customer', false], ['reserve-inventory', true], ['create-order', true],
      ['process-payment', true], ['update-customer-points', true], ['send-notification', false],
    ])
    const refs = definition.steps.flatMap((s) => [s.action.http.url, s.compensation?.http.url ?? '']).flatMap((u) => [...u.matchAll(/\$\{env:([A-Z_]+)\}/g)].map((m) => m[1]))
    expect(new Set(refs)).toEqual(new Set(Object.values(DEMO_ENV_VARS)))
  })

  it('stays consistent through business failures, flaky calls and lost responses', async () => {
    const svc = await start({ failureRate: 0.15, flakyRate: 0.3, seed: 7 })
    const outcomes: SagaOutcome[] = []
    for (let i = 0; i < 40; i++) outcomes.push(await runSaga(svc, `saga-${i}`, makeOrderInput(i, 7)))
    const statuses = new Set(outcomes.map((o) => o.status))
    expect(statuses).toContain('completed')
    expect(statuses).toContain('compensated')
    const results = new Set(svc.calls.map((c) => c.result))
    for (const r of ['unavailable', 'lost', 'replayed', 'refused']) expect(results).toContain(r)
    const report = svc.checkConsistency(outcomes)
    expect(report.checks.filter((c) => !c.ok)).toEqual([])
    expect(report.ok).toBe(true)
  })
})

describe('--failure-rate in demo --help', () => {
  it('states the share of sagas that compensate at 0.2 from the services that can refuse', async () => {
    const { customerService } = await import('../../src/demo/services/customer.js')
    const { inventoryService } = await import('../../src/demo/services/inventory.js')
    const { orderService } = await import('../../src/demo/services/order.js')
    const { paymentService } = await import('../../src/demo/services/payment.js')
    const { pointsService } = await import('../../src/demo/services/points.js')
    const { notificationService } = await import('../../src/demo/services/notification.js')
    const all = [customerService(), inventoryService(1), orderService(), paymentService(1), pointsService(), notificationService()]
    // Each service that can refuse rolls on its own: a saga completes only if none of them does.
    const refusing = all.filter((s) => Object.values(s.routes).some((r) => r.refuse)).length
    expect(refusing).toBe(4)
    const share = `${Math.round((1 - 0.8 ** refusing) * 100)} %`
    const { default: Demo } = await import('../../src/commands/demo.js')
    expect(Demo.flags['failure-rate'].summary).toContain(`per service`)
    expect(Demo.flags['failure-rate'].summary).toContain(`0.2 compensates about ${share}`)
    expect(Demo.description).toContain(`0.2 compensates about ${share} of the sagas`)
  })
})
