import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { rerunFromStep, rerunPlan } from '../../src/engine/rerun.js'
import type { Saga } from '../../src/engine/types.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml } from '../helpers/engine.js'
import { stepService } from '../helpers/step-service.js'

describe.each(drivers)('repairing history on %s', (kind) => {
  const t = useTestDatabase(kind)
  const srv = stepService()
  let engine: Engine
  const op = { operator: 'ana' }
  const hitsOf = (id: string) => srv.hits.filter((h) => h.sagaId === id)
  const audit = async (id: string) => (await t.db.query<{ action: string; details: Record<string, any> }>(`SELECT action, details FROM audit_log WHERE saga_id = $1 ORDER BY id`, [id])).rows

  beforeAll(async () => {
    await new Promise<void>((r) => srv.server.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(srv.server.address() as AddressInfo).port}`
    const step = (name: string) => `  - { name: ${name}, action: { http: { url: "${base}/${name}" } }, compensation: { http: { url: "${base}/undo-${name}" } }, onFailure: suspend }`
    await applyYaml(t.db, ['name: repair', 'timeout: 1m', 'defaults: { timeout: 2s, retry: { maxAttempts: 1 } }', 'steps:', step('a'), step('b'), step('c')].join('\n'))
    engine = new Engine(t.db)
  })
  afterAll(() => new Promise<void>((r) => srv.server.close(() => r())))

  const settled = async (input: unknown): Promise<Saga> => engine.run((await engine.start('repair', input)).saga.id)
  const row = async (id: string) => (await t.db.query<{ revision: number }>(`SELECT revision, status, input, finished_at FROM sagas WHERE id = $1`, [id])).rows[0]

  it('--from-step on a completed saga: the plan, then b and c called again with rerun keys, a kept', async () => {
    const done = await settled({ n: 1 })
    expect(done.status).toBe('completed')
    const first = hitsOf(done.id)
    expect(first.map((h) => [h.path, h.key])).toEqual(['a', 'b', 'c'].map((s) => [`/${s}`, `${done.id}:${s}:action`]))

    const before = await row(done.id)
    const plan = await rerunPlan(engine, done.id, 'b')
    expect(plan).toEqual({
      sagaId: done.id,
      status: 'completed',
      fromStep: 'b',
      allowed: true,
      refusal: null,
      steps: [
        { step: 'a', index: 0, action: 'keep', status: 'succeeded', rerun: 0 },
        { step: 'b', index: 1, action: 'run', status: 'succeeded', rerun: 1 },
        { step: 'c', index: 2, action: 'run', status: 'succeeded', rerun: 1 },
      ],
    })
    expect(await row(done.id)).toEqual(before)

    const resumed = await rerunFromStep(engine, done.id, { ...op, fromStep: 'b', reason: 'warehouse moved', expectedRevision: before!.revision })
    expect(resumed).toMatchObject({ status: 'running', currentStep: 'b', finishedAt: null })
    const again = await engine.run(done.id)
    expect(again.status).toBe('completed')
    const rerun = hitsOf(done.id).slice(first.length)
    expect(rerun.map((h) => [h.path, h.key, h.attempt])).toEqual([
      ['/b', `${done.id}:b:action:rerun-1`, 1],
      ['/c', `${done.id}:c:action:rerun-1`, 1],
    ])
    // a is not called again, and its output is still what later steps read.
    expect(rerun[0]!.results).toEqual({ a: first[0] && { from: 'a', n: 1, call: srv.hits.indexOf(first[0]) + 1 } })
    const entry = (await audit(done.id)).at(-1)!
    expect(entry.action).toBe('saga.rerun')
    expect(entry.details).toMatchObject({ from: 'completed', to: 'running', fromStep: 'b', previousOutputs: { b: { value: { from: 'b' } }, c: { value: { from: 'c' } } } })

    // A second rerun carries the next number.
    await rerunFromStep(engine, done.id, { ...op, fromStep: 'c' })
    await engine.run(done.id)
    expect(hitsOf(done.id).at(-1)!.key).toBe(`${done.id}:c:action:rerun-2`)
  })

  it('refusals say why and change nothing: pending, a later step, an unknown step', async () => {
    const pending = (await engine.start('repair', {})).saga
    const plan = await rerunPlan(engine, pending.id, 'a')
    expect(plan).toMatchObject({ allowed: false, refusal: `saga ${pending.id} has not started: there is nothing to run again` })
    await expect(rerunFromStep(engine, pending.id, { ...op, fromStep: 'a' })).rejects.toMatchObject({ code: 'conflict', conflict: 'state' })

    const stuck = await settled({ fail: ['b'] })
    expect(stuck).toMatchObject({ status: 'suspended', currentStep: 'b' })
    const before = await row(stuck.id)
    expect((await rerunPlan(engine, stuck.id, 'c')).refusal).toBe(`saga ${stuck.id} has not finished step "b" before "c": rerun from "b" or an earlier step`)
    await expect(rerunFromStep(engine, stuck.id, { ...op, fromStep: 'c' })).rejects.toThrow(/has not finished step "b"/)
    await expect(rerunFromStep(engine, stuck.id, { ...op, fromStep: 'nope' })).rejects.toMatchObject({ code: 'usage' })
    await expect(rerunFromStep(engine, stuck.id, { ...op, fromStep: 'b', expectedRevision: before!.revision - 1 })).rejects.toMatchObject({ conflict: 'changed' })
    expect(await row(stuck.id)).toEqual(before)
    expect(await audit(stuck.id)).toEqual([])
  })

  it('--from-step with --input on a suspended saga: the new input reaches the rerun, the intervention is resolved, the audit keeps both', async () => {
    const stuck = await settled({ fail: ['b'], n: 2 })
    const calls = hitsOf(stuck.id).length
    const after = await rerunFromStep(engine, stuck.id, { ...op, fromStep: 'a', input: { n: 3 } })
    expect(after.status).toBe('running')
    expect((await engine.run(stuck.id)).status).toBe('completed')
    const rerun = hitsOf(stuck.id).slice(calls)
    expect(rerun.map((h) => [h.path, h.key, h.input])).toEqual([
      ['/a', `${stuck.id}:a:action:rerun-1`, { n: 3 }],
      // b was called once (refused with 409): its rerun is a new request too.
      ['/b', `${stuck.id}:b:action:rerun-1`, { n: 3 }],
      // c was never called: its key is the plain one.
      ['/c', `${stuck.id}:c:action`, { n: 3 }],
    ])
    const open = await t.db.query(`SELECT count(*)::int AS n FROM interventions WHERE saga_id = $1 AND status = 'open'`, [stuck.id])
    expect(open.rows[0]).toEqual({ n: 0 })
    expect((await audit(stuck.id)).at(-1)!.details.input).toEqual({ old: { value: { fail: ['b'], n: 2 } }, new: { value: { n: 3 } } })
  })

  it('retry --input replaces the input before the failed step runs again; a large value is audited by hash', async () => {
    const stuck = await settled({ fail: ['b'], n: 4 })
    const fixed = { n: 5, note: 'x'.repeat(5000) }
    await engine.retry(stuck.id, { ...op, input: fixed, reason: 'customer id was mistyped' })
    expect((await engine.run(stuck.id)).status).toBe('completed')
    const b = hitsOf(stuck.id).filter((h) => h.path === '/b')
    expect(b.map((h) => h.input.n)).toEqual([4, 5])
    // A plain retry keeps the step's key: the service never applied the refused call.
    expect(b.map((h) => h.key)).toEqual([`${stuck.id}:b:action`, `${stuck.id}:b:action`])
    const details = (await audit(stuck.id)).at(-1)!.details
    expect(details.input.old).toEqual({ value: { fail: ['b'], n: 4 } })
    expect(details.input.new).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: JSON.stringify(fixed).length })
  })

  it('skip --output: later steps read the given output in results', async () => {
    const stuck = await settled({ fail: ['b'] })
    await engine.skip(stuck.id, { ...op, step: 'b', reason: 'reserved by hand', output: { reservation: 'r-77' } })
    expect((await engine.run(stuck.id)).status).toBe('completed')
    const c = hitsOf(stuck.id).find((h) => h.path === '/c')!
    expect(c.results).toMatchObject({ b: { reservation: 'r-77' } })
    expect((await audit(stuck.id)).at(-1)!.details.output).toEqual({ new: { value: { reservation: 'r-77' } } })
    // Without --output a skipped step still leaves null, as before.
    const other = await settled({ fail: ['b'] })
    await engine.skip(other.id, { ...op, step: 'b', reason: 'not needed' })
    await engine.run(other.id)
    expect(hitsOf(other.id).find((h) => h.path === '/c')!.results).toMatchObject({ b: null })
  })
})
