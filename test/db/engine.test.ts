import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { Worker } from '../../src/engine/worker.js'
import { ConflictError } from '../../src/errors.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, recordedCalls, scriptedDefinition, waitFor } from '../helpers/engine.js'

const THREE = [{ name: 'reserve' }, { name: 'charge' }, { name: 'ship' }]

describe.each(drivers)('engine semantics on %s', (kind) => {
  const t = useTestDatabase(kind)
  let engine: Engine
  let worker: Worker

  beforeAll(async () => {
    engine = new Engine(t.db)
    await applyYaml(t.db, scriptedDefinition('three', THREE))
    await applyYaml(t.db, scriptedDefinition('with-validation', [{ name: 'validate', compensation: false }, ...THREE]))
    await applyYaml(t.db, scriptedDefinition('careful', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }, { name: 'ship' }]))
    await applyYaml(t.db, scriptedDefinition('ordered', THREE, 'compensationOrder: [reserve, ship, charge]'))
    await applyYaml(t.db, scriptedDefinition('deadline', [{ name: 'reserve' }, { name: 'wait' }, { name: 'ship' }], 'timeout: 300ms'))
    worker = new Worker(t.db, { concurrency: 4, defsDir: FIXTURE_STEPS, leaseMs: 5_000, pollMs: 50 })
    await worker.start()
  })
  afterAll(async () => {
    await worker.stop()
  })

  async function runToRest(def: string, script: Record<string, unknown> = {}, opts: { key?: string } = {}) {
    const { saga } = await engine.start(def, { script }, opts)
    return waitFor(async () => {
      const s = await engine.get(saga.id)
      return ['completed', 'compensated', 'suspended', 'failed'].includes(s.status) ? s : null
    })
  }

  const order = (id: string) => recordedCalls(id).map((c) => `${c.phase === 'action' ? '+' : '-'}${c.step}`)

  it('completes a saga, passing earlier outputs to later steps, with one idempotency key per step and phase', async () => {
    const saga = await runToRest('three')
    expect(saga).toMatchObject({ status: 'completed', currentStep: null, lastError: null })
    expect(order(saga.id)).toEqual(['+reserve', '+charge', '+ship'])
    const ship = recordedCalls(saga.id).find((c) => c.step === 'ship')!
    expect(Object.keys(ship.results)).toEqual(['reserve', 'charge'])
    expect(ship.key).toBe(`${saga.id}:ship:action`)
    const events = await t.db.query<{ type: string }>(`SELECT type FROM events WHERE saga_id = $1 ORDER BY id`, [saga.id])
    expect(events.rows.map((e) => e.type)).toEqual([
      'saga.created', 'saga.started', 'step.started', 'step.succeeded', 'step.started', 'step.succeeded', 'step.started', 'step.succeeded', 'saga.completed',
    ])
  })

  it('a business failure compensates the attempted steps in reverse order, not the failed one', async () => {
    const saga = await runToRest('with-validation', { ship: { action: ['business'] } })
    expect(saga.status).toBe('compensated')
    expect(saga.reason).toMatch(/^ship failed: ship refused/)
    expect(order(saga.id)).toEqual(['+validate', '+reserve', '+charge', '+ship', '-charge', '-reserve'])
  })

  it('retries a transient failure with the same key, waiting in the database, then succeeds', async () => {
    const saga = await runToRest('three', { charge: { action: ['transient', 'transient', 'ok'] } })
    expect(saga.status).toBe('completed')
    const charges = recordedCalls(saga.id).filter((c) => c.step === 'charge')
    expect(charges.map((c) => c.attempt)).toEqual([1, 2, 3])
    expect(new Set(charges.map((c) => c.key)).size).toBe(1)
    const step = await t.db.query(`SELECT attempts, status FROM steps WHERE saga_id = $1 AND name = 'charge'`, [saga.id])
    expect(step.rows[0]).toEqual({ attempts: 3, status: 'succeeded' })
    const failed = await t.db.query<{ data: { retryAt: string } }>(`SELECT data FROM events WHERE saga_id = $1 AND type = 'step.failed' ORDER BY id`, [saga.id])
    expect(failed.rows).toHaveLength(2)
    expect(failed.rows[0]!.data.retryAt).toBeTruthy()
  })

  it('exhausted retries compensate the failed step too: its outcome is unknown', async () => {
    const saga = await runToRest('three', { charge: { action: ['transient'] } })
    expect(saga.status).toBe('compensated')
    expect(order(saga.id)).toEqual(['+reserve', '+charge', '+charge', '+charge', '-charge', '-reserve'])
  })

  it('follows compensationOrder', async () => {
    const saga = await runToRest('ordered', { ship: { action: ['transient'] } })
    expect(order(saga.id).filter((s) => s.startsWith('-'))).toEqual(['-reserve', '-ship', '-charge'])
  })

  it('exhausted compensation suspends the saga and opens an intervention', async () => {
    const saga = await runToRest('three', { ship: { action: ['business'] }, charge: { compensation: ['transient'] } })
    expect(saga.status).toBe('suspended')
    expect(saga.reason).toMatch(/^compensation of charge failed/)
    expect(order(saga.id)).toEqual(['+reserve', '+charge', '+ship', '-charge', '-charge'])
    const iv = await t.db.query(`SELECT status, step, phase FROM interventions WHERE saga_id = $1`, [saga.id])
    expect(iv.rows).toEqual([{ status: 'open', step: 'charge', phase: 'compensation' }])
  })

  it('onFailure: suspend suspends instead of compensating', async () => {
    const saga = await runToRest('careful', { charge: { action: ['business'] } })
    expect(saga.status).toBe('suspended')
    expect(order(saga.id)).toEqual(['+reserve', '+charge'])
    const iv = await t.db.query(`SELECT count(*)::int AS n FROM interventions WHERE saga_id = $1 AND status = 'open'`, [saga.id])
    expect(iv.rows[0]).toEqual({ n: 1 })
  })

  it('the saga deadline starts compensation with reason timeout', async () => {
    const saga = await runToRest('deadline', { wait: { action: ['slow:500'] } })
    expect(saga.status).toBe('compensated')
    expect(saga.reason).toBe('timeout')
    expect(order(saga.id)).toEqual(['+reserve', '+wait', '-wait', '-reserve'])
  })

  it('starting twice with one key returns the same saga', async () => {
    const a = await engine.start('three', {}, { key: `order-${kind}` })
    const b = await engine.start('three', { other: true }, { key: `order-${kind}` })
    expect(a.created).toBe(true)
    expect(b.created).toBe(false)
    expect(b.saga.id).toBe(a.saga.id)
    await waitFor(async () => (await engine.get(a.saga.id)).status === 'completed')
  })

  it('operator retry resumes a suspended saga with a fresh retry policy and resolves its intervention', async () => {
    const saga = await runToRest('careful', { charge: { action: ['business', 'business', 'ok'] } })
    expect(saga.status).toBe('suspended')
    await expect(engine.retry(saga.id, { operator: 'ana', reason: 'card fixed', expectedRevision: saga.revision - 1 })).rejects.toBeInstanceOf(ConflictError)
    const resumed = await engine.retry(saga.id, { operator: 'ana', reason: 'card fixed', expectedRevision: saga.revision })
    expect(resumed.status).toBe('running')
    await expect(engine.retry(saga.id, { operator: 'bob', expectedRevision: saga.revision })).rejects.toThrow(/changed since you looked/)
    // attempt counting restarts: the scripted 'ok' is the third attempt, so one more retry is needed
    const again = await waitFor(async () => ((await engine.get(saga.id)).status === 'suspended' ? engine.get(saga.id) : null))
    const done = await engine.retry(again.id, { operator: 'ana' })
    expect(done.status).toBe('running')
    const iv = await t.db.query(`SELECT status, resolved_by, action FROM interventions WHERE saga_id = $1 ORDER BY created_at`, [saga.id])
    expect(iv.rows.every((r) => r.status === 'resolved')).toBe(true)
    const audit = await t.db.query(`SELECT operator, action, reason FROM audit_log WHERE saga_id = $1 ORDER BY id`, [saga.id])
    expect(audit.rows[0]).toEqual({ operator: 'ana', action: 'saga.retry', reason: 'card fixed' })
  })

  it('compensate --dry-run explains the plan; compensate rolls back a suspended saga', async () => {
    const saga = await runToRest('careful', { charge: { action: ['transient'] } })
    expect(saga.status).toBe('suspended')
    const plan = await engine.compensationPlan(saga.id)
    expect(plan.steps.map((s) => [s.step, s.order, s.why])).toEqual([
      ['reserve', 2, 'action succeeded'],
      ['charge', 1, 'action attempted, outcome unknown (transient)'],
      ['ship', null, 'never attempted'],
    ])
    await engine.compensate(saga.id, { operator: 'ana', reason: 'customer cancelled' })
    const done = await waitFor(async () => ((await engine.get(saga.id)).status === 'compensated' ? engine.get(saga.id) : null))
    expect(done.reason).toBe('operator: customer cancelled')
    expect(order(saga.id).slice(-2)).toEqual(['-charge', '-reserve'])
    await expect(engine.compensate(saga.id, { operator: 'ana' })).rejects.toThrow(/is compensated: it cannot be compensated/)
  })

  it('skip marks the failed step done by hand and continues; abort fails without compensating', async () => {
    const s1 = await runToRest('careful', { charge: { action: ['business'] } })
    await expect(engine.skip(s1.id, { operator: 'ana', step: 'ship', reason: 'x' })).rejects.toThrow(/not the failed step/)
    await engine.skip(s1.id, { operator: 'ana', step: 'charge', reason: 'charged by phone' })
    const done = await waitFor(async () => ((await engine.get(s1.id)).status === 'completed' ? engine.get(s1.id) : null))
    expect(done.status).toBe('completed')
    expect(order(s1.id)).toEqual(['+reserve', '+charge', '+ship'])

    const s2 = await runToRest('careful', { charge: { action: ['business'] } })
    // A fresh engine has no cached definitions: the action must read them inside its own transaction.
    const aborted = await new Engine(t.db).abort(s2.id, { operator: 'ana', reason: 'duplicate order' })
    expect(aborted).toMatchObject({ status: 'failed', reason: 'aborted: duplicate order' })
    expect(order(s2.id)).toEqual(['+reserve', '+charge'])
    await expect(engine.abort(s2.id, { operator: 'ana', reason: 'again' })).rejects.toBeInstanceOf(ConflictError)
  })

  it('resolving an intervention acts on its saga', async () => {
    const saga = await runToRest('careful', { charge: { action: ['business'] } })
    const iv = await t.db.query<{ id: string }>(`SELECT id FROM interventions WHERE saga_id = $1 AND status = 'open'`, [saga.id])
    await engine.resolveIntervention(iv.rows[0]!.id, { operator: 'ana', action: 'compensate', note: 'refund manually checked' })
    await waitFor(async () => (await engine.get(saga.id)).status === 'compensated')
    const row = await t.db.query(`SELECT status, action, note, resolved_by FROM interventions WHERE id = $1`, [iv.rows[0]!.id])
    expect(row.rows[0]).toEqual({ status: 'resolved', action: 'compensate', note: 'refund manually checked', resolved_by: 'ana' })
    await expect(engine.resolveIntervention(iv.rows[0]!.id, { operator: 'ana', action: 'retry', note: 'again' })).rejects.toThrow(/already resolved/)
  })
})
