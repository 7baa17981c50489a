import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { deleteSaga } from '../../src/engine/delete.js'
import { forkPlan, forkSaga } from '../../src/engine/fork.js'
import { migratePlan, migrateSaga } from '../../src/engine/migrate.js'
import type { Saga } from '../../src/engine/types.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml } from '../helpers/engine.js'
import { stepService } from '../helpers/step-service.js'

describe.each(drivers)('fork and migrate on %s', (kind) => {
  const t = useTestDatabase(kind)
  const srv = stepService()
  let engine: Engine
  let base: string
  const op = { operator: 'ana' }
  const hitsOf = (id: string) => srv.hits.filter((h) => h.sagaId === id)
  const audit = async (id: string) => (await t.db.query<{ action: string; target: string; details: Record<string, any> }>(`SELECT action, target, details FROM audit_log WHERE saga_id = $1 ORDER BY id`, [id])).rows
  const snapshot = async (id: string) => ({
    saga: (await t.db.query(`SELECT * FROM sagas WHERE id = $1`, [id])).rows[0],
    steps: (await t.db.query(`SELECT * FROM steps WHERE saga_id = $1 ORDER BY step_index, phase`, [id])).rows,
    events: (await t.db.query(`SELECT count(*)::int AS n FROM events WHERE saga_id = $1`, [id])).rows[0],
  })
  const sagaCount = async () => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas`)).rows[0]!.n

  /** A definition `name` whose steps call `<base>/<prefix>/<step>`. */
  const define = (name: string, prefix: string, steps: string[], extra: string[] = []) => {
    const step = (s: string) => `  - { name: ${s}, action: { http: { url: "${base}/${prefix}/${s}" } }, compensation: { http: { url: "${base}/${prefix}/undo-${s}" } }, onFailure: suspend }`
    return applyYaml(t.db, [`name: ${name}`, 'timeout: 1m', 'defaults: { timeout: 2s, retry: { maxAttempts: 1 } }', ...extra, 'steps:', ...steps.map(step)].join('\n'))
  }

  beforeAll(async () => {
    await new Promise<void>((r) => srv.server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(srv.server.address() as AddressInfo).port}`
    await define('shop', 'v1', ['a', 'b', 'c'])
    await define('shop', 'v2', ['a', 'b', 'c'])
    engine = new Engine(t.db)
  })
  afterAll(() => new Promise<void>((r) => srv.server.close(() => r())))

  const settled = async (def: string, input: unknown, version?: number): Promise<Saga> => engine.run((await engine.start(def, input, { version })).saga.id)

  it('fork --from-step: the plan, then a new saga that calls only c, on the new version, with the original outputs; the original untouched', async () => {
    const original = await settled('shop', { fail: ['c'], n: 1 }, 1)
    expect(original).toMatchObject({ status: 'suspended', currentStep: 'c', version: 1 })
    const before = await snapshot(original.id)
    const plan = await forkPlan(engine, original.id, { fromStep: 'c', version: 'latest', input: { n: 2 } })
    expect(plan).toEqual({
      sagaId: original.id,
      status: 'suspended',
      definition: 'shop',
      fromVersion: 1,
      version: 2,
      fromStep: 'c',
      key: null,
      inputReplaced: true,
      allowed: true,
      refusal: null,
      steps: [
        { step: 'a', index: 0, action: 'keep', status: 'succeeded' },
        { step: 'b', index: 1, action: 'keep', status: 'succeeded' },
        { step: 'c', index: 2, action: 'call', status: 'failed' },
      ],
    })
    expect(await snapshot(original.id)).toEqual(before)

    const { saga: fork } = await forkSaga(engine, original.id, { ...op, fromStep: 'c', version: 'latest', input: { n: 2 }, reason: 'c fixed in v2', expectedRevision: original.revision })
    expect(fork).toMatchObject({ forkedFrom: original.id, version: 2, status: 'running', currentStep: 'c', key: null, input: { n: 2 } })
    expect((await engine.run(fork.id)).status).toBe('completed')
    const calls = hitsOf(fork.id)
    // a and b are never called again: the service sees one request, for c, at the new URL.
    expect(calls.map((h) => [h.path, h.key])).toEqual([['/v2/c', `${fork.id}:c:action`]])
    const [a, b] = ['/v1/a', '/v1/b'].map((path) => hitsOf(original.id).find((h) => h.path === path)!)
    expect(calls[0]!.results).toEqual({ a: { from: 'a', n: 1, call: srv.hits.indexOf(a!) + 1 }, b: { from: 'b', n: 1, call: srv.hits.indexOf(b!) + 1 } })
    expect(await snapshot(original.id)).toEqual(before)

    const [entry] = await audit(original.id)
    expect(entry).toMatchObject({ action: 'saga.fork', target: fork.id, details: { fork: fork.id, fromStep: 'c', fromVersion: 1, version: 2, kept: ['a', 'b'], input: { old: { value: { fail: ['c'], n: 1 } }, new: { value: { n: 2 } } } } })
    const forks = await t.db.query(`SELECT id FROM sagas WHERE forked_from = $1`, [original.id])
    expect(forks.rows).toEqual([{ id: fork.id }])
  })

  it('a fork compensates the steps it kept when it rolls back, under its own keys', async () => {
    const original = await settled('shop', { fail: ['c'] }, 1)
    const { saga: fork } = await forkSaga(engine, original.id, { ...op, fromStep: 'b', key: `fork-${original.id}` })
    expect(fork.key).toBe(`fork-${original.id}`)
    // The fork inherits the input, so c fails again; compensating it undoes b (which it called) and a (which it kept).
    expect((await engine.run(fork.id)).status).toBe('suspended')
    await engine.compensate(fork.id, op)
    expect((await engine.run(fork.id)).status).toBe('compensated')
    expect(hitsOf(fork.id).map((h) => h.path)).toEqual(['/v1/b', '/v1/c', '/v1/undo-b', '/v1/undo-a'])
    // The same key again is refused: nothing is written.
    const count = await sagaCount()
    expect((await forkPlan(engine, original.id, { fromStep: 'b', key: `fork-${original.id}` })).refusal).toBe(`key "fork-${original.id}" already started saga ${fork.id}`)
    await expect(forkSaga(engine, original.id, { ...op, fromStep: 'b', key: `fork-${original.id}` })).rejects.toMatchObject({ code: 'conflict' })
    expect(await sagaCount()).toBe(count)
  })

  it('a fork that would keep a step the original compensated is refused with why, and writes nothing', async () => {
    const original = await settled('shop', { fail: ['c'] }, 1)
    await engine.compensate(original.id, op)
    // Compensation has started but not reached a yet: a fork keeping a would still lose it.
    expect((await forkPlan(engine, original.id, { fromStep: 'b' })).refusal).toBe(`saga ${original.id} is compensating and will undo step "a": fork from "a" or an earlier step`)
    expect((await engine.run(original.id)).status).toBe('compensated')
    const before = await snapshot(original.id)
    const count = await sagaCount()
    const plan = await forkPlan(engine, original.id, { fromStep: 'c' })
    expect(plan).toMatchObject({ allowed: false, refusal: `saga ${original.id} has already compensated step "a" (its effect may be undone): fork from "a" or an earlier step` })
    expect(plan.steps.map((s) => s.action)).toEqual(['keep', 'keep', 'call'])
    await expect(forkSaga(engine, original.id, { ...op, fromStep: 'c' })).rejects.toMatchObject({ code: 'conflict', conflict: 'state' })
    await expect(forkSaga(engine, original.id, { ...op, fromStep: 'nope' })).rejects.toMatchObject({ code: 'usage' })
    expect(await sagaCount()).toBe(count)
    expect(await snapshot(original.id)).toEqual(before)
    expect(await audit(original.id)).toEqual([expect.objectContaining({ action: 'saga.compensate' })])
    // From the first step nothing is kept: allowed.
    const fresh = await forkSaga(engine, original.id, { ...op })
    expect(fresh.saga).toMatchObject({ status: 'pending', forkedFrom: original.id })
    expect(fresh.plan.steps.every((s) => s.action === 'call')).toBe(true)
  })

  it('a fork given the start key of a deleted saga is refused in the plan and by the fork, as a conflict, writing nothing', async () => {
    const gone = await engine.run((await engine.start('shop', {}, { version: 1, key: 'fork-deleted-key' })).saga.id)
    expect(gone.status).toBe('completed')
    await deleteSaga(t.db, gone.id, { ...op, reason: 'test order' })
    const original = await settled('shop', { fail: ['c'] }, 1)
    const plan = await forkPlan(engine, original.id, { fromStep: 'c', key: 'fork-deleted-key' })
    expect(plan).toMatchObject({ allowed: false, refusal: expect.stringContaining(`key "fork-deleted-key" belonged to saga ${gone.id}, deleted at`) })
    const count = await sagaCount()
    await expect(forkSaga(engine, original.id, { ...op, reason: 'r', fromStep: 'c', key: 'fork-deleted-key' })).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining(`belonged to saga ${gone.id}`) })
    expect(await sagaCount()).toBe(count)
    expect(await audit(original.id)).toEqual([])
  })

  it('a fork dry run refuses an input that cannot be stored, as the fork does', async () => {
    const original = await settled('shop', { fail: ['c'] }, 1)
    const bad = { note: 'a\u0000b' }
    await expect(forkSaga(engine, original.id, { ...op, reason: 'r', fromStep: 'c', input: bad })).rejects.toMatchObject({ code: 'usage' })
    await expect(forkPlan(engine, original.id, { fromStep: 'c', input: bad })).rejects.toMatchObject({ code: 'usage', message: expect.stringContaining('NUL') })
  })

  it('fork refuses to keep a step the original has not finished', async () => {
    const original = await settled('shop', { fail: ['b'] }, 1)
    expect((await forkPlan(engine, original.id, { fromStep: 'c' })).refusal).toBe(`saga ${original.id} has not finished step "b": fork from "b" or an earlier step`)
  })

  it('migrate: the plan, then the next call goes to the new URL; the intervention stays open; audited', async () => {
    const stuck = await settled('shop', { fail: ['b'] }, 1)
    expect(hitsOf(stuck.id).map((h) => h.path)).toEqual(['/v1/a', '/v1/b'])
    const plan = await migratePlan(engine, stuck.id, 'latest')
    expect(plan).toMatchObject({ sagaId: stuck.id, fromVersion: 1, toVersion: 2, currentStep: 'b', allowed: true, refusal: null })
    expect(plan.steps).toEqual([
      { step: 'a', from: 0, to: 0, ran: true, changed: true },
      { step: 'b', from: 1, to: 1, ran: true, changed: true },
      { step: 'c', from: 2, to: 2, ran: false, changed: true },
    ])
    const moved = await migrateSaga(engine, stuck.id, { ...op, toVersion: 2, reason: 'b fixed', expectedRevision: stuck.revision })
    expect(moved).toMatchObject({ version: 2, status: 'suspended', currentStep: 'b', revision: stuck.revision + 1 })
    const open = await t.db.query(`SELECT count(*)::int AS n FROM interventions WHERE saga_id = $1 AND status = 'open'`, [stuck.id])
    expect(open.rows[0]).toEqual({ n: 1 })
    await engine.retry(stuck.id, { ...op, input: {} })
    expect((await engine.run(stuck.id)).status).toBe('completed')
    expect(hitsOf(stuck.id).map((h) => h.path)).toEqual(['/v1/a', '/v1/b', '/v2/b', '/v2/c'])
    expect((await audit(stuck.id))[0]).toMatchObject({ action: 'saga.migrate', details: { from: 'suspended', to: 'suspended', fromVersion: 1, toVersion: 2 } })
    const ev = await t.db.query(`SELECT data FROM events WHERE saga_id = $1 AND type = 'saga.migrated'`, [stuck.id])
    expect(ev.rows).toEqual([{ data: { from: 1, to: 2, operator: 'ana', reason: 'b fixed' } }])
  })

  it('migrate to a version that reorders what has not run yet: the saga follows the new order', async () => {
    await define('reorder', 'r1', ['a', 'b', 'c', 'd'])
    await define('reorder', 'r2', ['a', 'b', 'd', 'c'])
    const stuck = await settled('reorder', { fail: ['b'] }, 1)
    expect(await migrateSaga(engine, stuck.id, { ...op, toVersion: 'latest' })).toMatchObject({ version: 2, stepIndex: 1, currentStep: 'b' })
    await engine.retry(stuck.id, { ...op, input: {} })
    expect((await engine.run(stuck.id)).status).toBe('completed')
    expect(hitsOf(stuck.id).map((h) => h.path)).toEqual(['/r1/a', '/r1/b', '/r2/b', '/r2/d', '/r2/c'])
    const rows = await t.db.query(`SELECT step_index, name FROM steps WHERE saga_id = $1 AND phase = 'action' ORDER BY step_index`, [stuck.id])
    expect(rows.rows).toEqual(['a', 'b', 'd', 'c'].map((name, i) => ({ step_index: i, name })))
  })

  it('migrate a saga suspended in compensation: the corrected compensation URL of the new version is called', async () => {
    const step = (s: string, undo: string) => `  - { name: ${s}, action: { http: { url: "${base}/u/${s}" } }, compensation: { http: { url: "${undo}/undo-${s}" } }, onFailure: suspend }`
    const yaml = (undo: string) => ['name: undo', 'defaults: { timeout: 2s, retry: { maxAttempts: 1 }, compensationRetry: { maxAttempts: 1 } }', 'steps:', step('a', undo), step('b', undo), step('c', undo)].join('\n')
    await applyYaml(t.db, yaml('http://127.0.0.1:1'))
    await applyYaml(t.db, yaml(`${base}/fixed`))
    const stuck = await settled('undo', { fail: ['c'] }, 1)
    await engine.compensate(stuck.id, op)
    expect(await engine.run(stuck.id)).toMatchObject({ status: 'suspended', currentStep: 'b', compensationPlan: [1, 0] })
    const plan = await migratePlan(engine, stuck.id, 'latest')
    expect(plan).toMatchObject({ allowed: true, currentStep: 'b' })
    expect(await migrateSaga(engine, stuck.id, { ...op, toVersion: 'latest' })).toMatchObject({ version: 2, status: 'suspended', compensationPlan: [1, 0] })
    await engine.retry(stuck.id, op)
    expect((await engine.run(stuck.id)).status).toBe('compensated')
    expect(hitsOf(stuck.id).map((h) => h.path)).toEqual(['/u/a', '/u/b', '/u/c', '/fixed/undo-b', '/fixed/undo-a'])
  })

  it('migrate refusals say why and change nothing', async () => {
    await define('moving', 'm1', ['a', 'b', 'c'])
    await define('moving', 'm2', ['a', 'c']) // v2: drops b
    await define('moving', 'm3', ['b', 'a', 'c']) // v3: b before a
    await define('moving', 'm4', ['a', 'x', 'b', 'c']) // v4: adds x before b
    const stuck = await settled('moving', { fail: ['b'] }, 1)
    const before = await snapshot(stuck.id)
    const why = async (v: number) => (await migratePlan(engine, stuck.id, v)).refusal
    expect(await why(2)).toBe(`saga ${stuck.id} already ran step "b", which version 2 does not have`)
    expect(await why(3)).toBe(`saga ${stuck.id} ran "a" before "b", but version 3 moves "b" before "a"`)
    expect(await why(4)).toBe(`saga ${stuck.id} would never run step "x": version 4 has it before "b", where the saga is`)
    expect(await why(1)).toBe(`saga ${stuck.id} is already on version 1`)
    for (const v of [2, 3, 4, 1]) await expect(migrateSaga(engine, stuck.id, { ...op, toVersion: v })).rejects.toMatchObject({ code: 'conflict', conflict: 'state' })
    await expect(migrateSaga(engine, stuck.id, { ...op, toVersion: 9 })).rejects.toMatchObject({ code: 'not_found' })

    // A call in flight: a worker holds the lease.
    const pending = (await engine.start('moving', {}, { version: 1 })).saga
    await t.db.query(`UPDATE sagas SET lease_owner = 'w1', due_at = now() + interval '1 minute' WHERE id = $1`, [pending.id])
    expect(await migratePlan(engine, pending.id, 2)).toMatchObject({ allowed: false, refusal: `saga ${pending.id} is being executed by worker w1: a call may be in flight, wait until it is handed back` })
    await expect(migrateSaga(engine, pending.id, { ...op, toVersion: 2 })).rejects.toMatchObject({ conflict: 'state' })

    // A call whose outcome is not recorded yet (its worker gone, the lease lapsed): it may still land.
    await t.db.query(`UPDATE sagas SET lease_owner = NULL WHERE id = $1`, [pending.id])
    await t.db.query(`INSERT INTO steps (saga_id, step_index, phase, name, status, attempts) VALUES ($1, 0, 'action', 'a', 'running', 1)`, [pending.id])
    expect((await migratePlan(engine, pending.id, 2)).refusal).toBe(`saga ${pending.id} has a call to step "a" in flight: wait until its outcome is recorded`)

    // At c before its first call, with b done: a version putting c before b would call b again.
    await define('moving', 'm5', ['a', 'c', 'b'])
    const { saga: atC } = await forkSaga(engine, (await settled('moving', {}, 1)).id, { ...op, reason: 'r', fromStep: 'c' })
    const atCBefore = await snapshot(atC.id)
    expect((await migratePlan(engine, atC.id, 5)).refusal).toBe(`saga ${atC.id} already ran step "b", but version 5 has it after "c", where the saga is: it would run again`)
    await expect(migrateSaga(engine, atC.id, { ...op, toVersion: 5 })).rejects.toMatchObject({ code: 'conflict', conflict: 'state' })
    expect(await snapshot(atC.id)).toEqual(atCBefore)

    const done = await settled('moving', {}, 1)
    expect((await migratePlan(engine, done.id, 2)).refusal).toBe(`saga ${done.id} is completed: it has nothing left to run on another version`)
    expect(await snapshot(stuck.id)).toEqual(before)
    expect(await audit(stuck.id)).toEqual([])
  })
})
