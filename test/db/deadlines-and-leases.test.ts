import { describe, expect, it } from 'vitest'
import { runCompensationPass } from '../../src/engine/batch.js'
import { Engine } from '../../src/engine/engine.js'
import { Worker } from '../../src/engine/worker.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, recordedCalls, scriptedDefinition, waitFor } from '../helpers/engine.js'

const TWO = [{ name: 'reserve' }, { name: 'ship' }]

describe.each(drivers)('deadlines and leases on %s', (kind) => {
  const t = useTestDatabase(kind)

  const eventTypes = async (id: string) =>
    (await t.db.query<{ type: string }>(`SELECT type FROM events WHERE saga_id = $1 ORDER BY id`, [id])).rows.map((r) => r.type)

  it('a pending saga already past its deadline is compensated by the worker with nothing attempted', async () => {
    await applyYaml(t.db, scriptedDefinition('late-run', TWO, 'timeout: 1ms'))
    const engine = new Engine(t.db)
    const { saga } = await engine.start('late-run', {})
    await new Promise((r) => setTimeout(r, 20))
    const done = await engine.run(saga.id, { defsDir: FIXTURE_STEPS, signal: AbortSignal.timeout(10_000) })
    expect(done).toMatchObject({ status: 'compensated', reason: 'timeout' })
    expect(recordedCalls(saga.id)).toEqual([])
    expect(await engine.store.stepsOf(saga.id)).toEqual([])
    expect(await eventTypes(saga.id)).toEqual(['saga.created', 'saga.compensating', 'saga.compensated'])
  })

  it('a pending saga already past its deadline is timed out by compensate --batch with nothing attempted', async () => {
    await applyYaml(t.db, scriptedDefinition('late-pass', TWO, 'timeout: 1ms'))
    const engine = new Engine(t.db)
    const { saga } = await engine.start('late-pass', {})
    await new Promise((r) => setTimeout(r, 20))
    const summary = await runCompensationPass(t.db, { limit: 10, maxRuntimeMs: 10_000, stuckAfterMs: 600_000, defsDir: FIXTURE_STEPS })
    expect(summary).toMatchObject({ timedOut: 1, compensated: 1, errors: 0 })
    expect(await engine.get(saga.id)).toMatchObject({ status: 'compensated', reason: 'timeout' })
    expect(recordedCalls(saga.id)).toEqual([])
    expect(await eventTypes(saga.id)).toEqual(['saga.created', 'saga.compensating', 'saga.compensated'])
  })

  it('saga run renews its lease during a long call: a worker started meanwhile does not take the saga over', async () => {
    await applyYaml(t.db, scriptedDefinition('long-call', TWO))
    const engine = new Engine(t.db)
    const { saga } = await engine.start('long-call', { script: { reserve: { action: ['slow:1500'] } } })
    const running = engine.run(saga.id, { defsDir: FIXTURE_STEPS, leaseMs: 300, signal: AbortSignal.timeout(15_000) })
    await waitFor(async () => recordedCalls(saga.id).length > 0)
    const leaseEnd = async () => (await engine.get(saga.id)).dueAt!.getTime()
    const first = await leaseEnd()
    await new Promise((r) => setTimeout(r, 500))
    expect(await leaseEnd()).toBeGreaterThan(first)
    const worker = new Worker(t.db, { defsDir: FIXTURE_STEPS, leaseMs: 300, pollMs: 20 })
    await worker.start()
    try {
      expect((await running).status).toBe('completed')
    } finally {
      await worker.stop()
    }
    expect(recordedCalls(saga.id).map((c) => `${c.step}:${c.attempt}`)).toEqual(['reserve:1', 'ship:1'])
    expect(await eventTypes(saga.id)).not.toContain('saga.reclaimed')
  })
  it('a worker that drains hands the saga back with its next step not started, and the next holder runs it once', async () => {
    await applyYaml(t.db, scriptedDefinition('drained', TWO))
    const engine = new Engine(t.db)
    const { saga } = await engine.start('drained', { script: { reserve: { action: ['slow:600'] } } })
    const first = new Worker(t.db, { defsDir: FIXTURE_STEPS, leaseMs: 10_000, pollMs: 20 })
    await first.start()
    await waitFor(async () => recordedCalls(saga.id).length > 0)
    await first.stop()
    const handedBack = await engine.get(saga.id)
    expect(handedBack).toMatchObject({ status: 'running', currentStep: 'ship' })
    expect(handedBack.leaseOwner ?? null).toBeNull()
    const steps = await engine.store.stepsOf(saga.id)
    expect(steps.map((s) => `${s.name}:${s.status}`)).toEqual(['reserve:succeeded'])
    expect((await eventTypes(saga.id)).at(-1)).toBe('step.succeeded')

    const second = new Worker(t.db, { defsDir: FIXTURE_STEPS, leaseMs: 10_000, pollMs: 20 })
    await second.start()
    try {
      await waitFor(async () => (await engine.get(saga.id)).status === 'completed')
    } finally {
      await second.stop()
    }
    expect(recordedCalls(saga.id).map((c) => `${c.step}:${c.attempt}`)).toEqual(['reserve:1', 'ship:1'])
  })
})
