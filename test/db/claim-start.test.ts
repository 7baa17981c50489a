import { beforeAll, describe, expect, it, vi } from 'vitest'
import { openDatabase } from '../../src/db/open.js'
import { limitCap, SagaStore } from '../../src/db/saga-store.js'
import { Engine } from '../../src/engine/engine.js'
import { Worker } from '../../src/engine/worker.js'
import { drivers, pgUrl, useTestDatabase } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, recordedCalls, scriptedDefinition, waitFor } from '../helpers/engine.js'

const THREE = [{ name: 'reserve' }, { name: 'charge' }, { name: 'ship' }]

describe.each(drivers)('a claim that starts pending sagas, on %s', (kind) => {
  const t = useTestDatabase(kind)
  let engine: Engine
  let store: SagaStore

  beforeAll(async () => {
    engine = new Engine(t.db)
    store = new SagaStore(t.db)
    await applyYaml(t.db, scriptedDefinition('three', THREE))
    await applyYaml(t.db, scriptedDefinition('other', THREE))
  })

  const journal = async (id: string) =>
    (await t.db.query<{ type: string; step: string | null; phase: string | null; attempt: number | null }>(
      `SELECT type, step, phase, attempt FROM events WHERE saga_id = $1 ORDER BY id`,
      [id],
    )).rows.map((e) => [e.type, e.step, e.phase, e.attempt])

  it('writes what the start transition writes: running, first step attempt 1, saga.started then step.started', async () => {
    const { saga } = await engine.start('three', {})
    const [c, ...rest] = await store.claimStarting('w1', 5_000, 10, { 'three@1': 'reserve' })
    expect(rest).toEqual([])
    expect(c).toMatchObject({ started: true, reclaimedFrom: null, saga: { id: saga.id, status: 'running', currentStep: 'reserve', revision: saga.revision + 1 } })
    const [step] = await store.stepsOf(saga.id)
    expect(step).toMatchObject({ index: 0, phase: 'action', name: 'reserve', status: 'running', attempts: 1, lastError: null, errorKind: null, finishedAt: null })
    expect(step!.startedAt).not.toBeNull()
    expect(await journal(saga.id)).toEqual([
      ['saga.created', null, null, null],
      ['saga.started', null, null, null],
      ['step.started', 'reserve', 'action', 1],
    ])
    await store.releaseAll('w1')
    await t.db.query(`UPDATE sagas SET status = 'completed', due_at = NULL WHERE id = $1`, [saga.id])
  })

  it('only claims, as before, a saga of another definition, one past its deadline, or one a dead worker held', async () => {
    const other = (await engine.start('other', {})).saga
    const late = (await engine.start('three', {})).saga
    await t.db.query(`UPDATE sagas SET deadline_at = now() - interval '1 second' WHERE id = $1`, [late.id])
    const held = (await engine.start('three', {})).saga
    await t.db.query(`UPDATE sagas SET lease_owner = 'dead-worker' WHERE id = $1`, [held.id])
    const claimed = await store.claimStarting('w2', 5_000, 10, { 'three@1': 'reserve' })
    expect(claimed.map((c) => [c.saga.id, c.started, c.saga.status, c.reclaimedFrom]).sort()).toEqual(
      [[other.id, false, 'pending', null], [late.id, false, 'pending', null], [held.id, false, 'pending', 'dead-worker']].sort(),
    )
    for (const s of [other, late, held]) {
      expect(await store.stepsOf(s.id)).toEqual([])
      expect(await journal(s.id)).toEqual([['saga.created', null, null, null]])
    }
    await t.db.query(`UPDATE sagas SET status = 'completed', due_at = NULL, lease_owner = NULL WHERE id = ANY($1::uuid[])`, [[other.id, late.id, held.id]])
  })

  it('a worker runs the sagas its claims started to the end, each step called once with attempt 1', async () => {
    const startedByClaim = new Set<string>()
    const claim = SagaStore.prototype.claimStarting
    const spy = vi.spyOn(SagaStore.prototype, 'claimStarting').mockImplementation(async function (this: SagaStore, ...args) {
      const got = await claim.apply(this, args)
      for (const c of got) if (c.started) startedByClaim.add(c.saga.id)
      return got
    })
    const worker = new Worker(t.db, { concurrency: 8, defsDir: FIXTURE_STEPS, leaseMs: 5_000, pollMs: 20 })
    await worker.start()
    try {
      // The first saga loads the definition; the ones after it are started by the claim.
      const first = (await engine.start('three', { script: {} })).saga.id
      await waitFor(async () => (await engine.get(first)).status === 'completed')
      const ids = await Promise.all([1, 2, 3, 4, 5].map(async () => (await engine.start('three', { script: {} })).saga.id))
      await waitFor(async () => (await Promise.all(ids.map((id) => engine.get(id)))).every((s) => s.status === 'completed'))
      for (const id of [first, ...ids]) {
        expect(recordedCalls(id).map((c) => `${c.step}:${c.attempt}`)).toEqual(['reserve:1', 'charge:1', 'ship:1'])
        expect((await journal(id)).map((e) => e[0])).toEqual([
          'saga.created', 'saga.started', 'step.started', 'step.succeeded', 'step.started', 'step.succeeded', 'step.started', 'step.succeeded', 'saga.completed',
        ])
      }
      // (The gate's view of participants is fresh for a second: a claim after that only claims.)
      expect(startedByClaim.size).toBeGreaterThan(0)
      expect([...startedByClaim].filter((id) => !ids.includes(id))).toEqual([])
      // One revision per transition, the start included, however it was written.
      const revisions = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) AND revision = 4`, [[first, ...ids]])
      expect(revisions.rows[0]!.n).toBe(6)
    } finally {
      await worker.stop()
      spy.mockRestore()
    }
  })
})

describe.runIf(pgUrl)('claims on the real server', () => {
  const t = useTestDatabase('pg')

  it('are planned once per cap, not on every call, whatever limit a worker asks for', async () => {
    // One connection, so the claims and the look at its prepared statements share a session.
    const one = await openDatabase({ url: t.url, schema: t.schema, max: 1 })
    try {
      const store = new SagaStore(one)
      const engine = new Engine(one)
      await applyYaml(one, scriptedDefinition('three', THREE))
      for (let i = 0; i < 40; i++) await engine.start('three', {})
      // A queue of the size a busy worker sees, so that the planner has a choice to make.
      await one.query(
        `INSERT INTO sagas (id, definition, version, status, input, due_at) SELECT gen_random_uuid(), 'three', 1, 'pending', '{}', now() - interval '1 hour' FROM generate_series(1, 20000)`,
      )
      await one.exec('ANALYZE sagas')
      for (let i = 0; i < 20; i++) {
        const limit = 17 + (i % 16)
        await store.claimStarting('w-plan', 60_000, limit, {})
        await store.claim('w-plan', 60_000, limit)
        await store.releaseAll('w-plan')
      }
      const plans = await one.query<{ name: string; generic: number; custom: number }>(
        `SELECT name, generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name LIKE 'sagactl_claim%' ORDER BY name`,
      )
      expect(plans.rows.length).toBe(2)
      for (const r of plans.rows) {
        expect(r.generic + r.custom).toBe(20)
        // PostgreSQL plans the first five executions for their parameters, then keeps the generic plan.
        expect(r.custom).toBeLessThanOrEqual(5)
      }
      // One statement per power of two: every limit from 17 to 32 shares the cap 32.
      expect(plans.rows.map((r) => r.name)).toEqual(['sagactl_claim_32', 'sagactl_claim_start_32'])
      expect(limitCap(1)).toBe(1)
      expect([2, 3, 4, 5, 8, 9, 32, 33].map(limitCap)).toEqual([2, 4, 4, 8, 8, 16, 32, 64])
    } finally {
      await one.close()
    }
  })

  it('never take more than the limit, though the cap is larger', async () => {
    const claimed = await new SagaStore(t.db).claim('w-cap', 60_000, 3)
    expect(claimed.length).toBe(3)
    const held = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas WHERE lease_owner = 'w-cap'`)
    expect(held.rows[0]!.n).toBe(3)
  })
})
