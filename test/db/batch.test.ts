import { describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/types.js'
import { runCompensationPass, type PassOptions } from '../../src/engine/batch.js'
import { Engine } from '../../src/engine/engine.js'
import { Worker } from '../../src/engine/worker.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, recordedCalls, scriptedDefinition, waitFor } from '../helpers/engine.js'

/** Steps scripted by the input; `wait` retries an hour later, so a saga rests there until its deadline. */
const DEADLINE = `name: deadline
timeout: 1s
defaults:
  timeout: 2s
  retry: { maxAttempts: 3, backoff: fixed, initialDelay: 20ms, jitter: false }
  compensationRetry: { maxAttempts: 2, backoff: fixed, initialDelay: 20ms, jitter: false }
steps:
  - name: reserve
    action: { module: ./scripted.js, export: step }
    compensation: { module: ./scripted.js, export: step }
  - name: wait
    action: { module: ./scripted.js, export: step }
    compensation: { module: ./scripted.js, export: step }
    retry: { maxAttempts: 5, backoff: fixed, initialDelay: 1h }
  - name: ship
    action: { module: ./scripted.js, export: step }
    compensation: { module: ./scripted.js, export: step }`

/** `ship` suspends on failure: a saga rests suspended after reserve and charge, ready to be compensated. */
const CAREFUL = scriptedDefinition('careful', [{ name: 'reserve' }, { name: 'charge' }, { name: 'ship', onFailure: 'suspend' }])

const undo = (id: string) => recordedCalls(id).filter((c) => c.phase === 'compensation').map((c) => `-${c.step}`)

describe.each(drivers)('compensation pass on %s', (kind) => {
  const t = useTestDatabase(kind)
  const pass = (o: Partial<PassOptions> = {}) =>
    runCompensationPass(t.db, { limit: 100, maxRuntimeMs: 30_000, stuckAfterMs: 600_000, defsDir: FIXTURE_STEPS, ...o })

  /** Runs sagas with a worker until each rests, then stops the worker: no worker is left to interfere. */
  async function settle(db: Database, engine: Engine, def: string, scripts: Array<Record<string, unknown>>, rested: (id: string) => Promise<boolean>) {
    const worker = new Worker(db, { concurrency: 8, defsDir: FIXTURE_STEPS, leaseMs: 5_000, pollMs: 20 })
    await worker.start()
    try {
      const ids = []
      for (const script of scripts) ids.push((await engine.start(def, { script })).saga.id)
      for (const id of ids) await waitFor(() => rested(id))
      return ids
    } finally {
      await worker.stop()
    }
  }

  const statusIs = (engine: Engine, s: string) => async (id: string) => (await engine.get(id)).status === s

  /** Suspended after reserve and charge, then compensation started by an operator: due now, no lease. */
  async function dueCompensations(engine: Engine, n: number, script: Record<string, unknown> = {}) {
    const scripts = Array.from({ length: n }, () => ({ ship: { action: ['business'] }, ...script }))
    const ids = await settle(t.db, engine, 'careful', scripts, statusIs(engine, 'suspended'))
    for (const id of ids) await engine.compensate(id, { operator: 'test', reason: 'batch test' })
    return ids
  }

  it('times out a running saga past its deadline that no live lease holds, then compensates it in reverse order', async () => {
    await applyYaml(t.db, DEADLINE)
    await applyYaml(t.db, CAREFUL)
    const engine = new Engine(t.db)
    const [id] = await settle(t.db, engine, 'deadline', [{ wait: { action: ['transient'] } }], async (sid) => {
      const r = await t.db.query<{ status: string; attempts: number }>(`SELECT status, attempts FROM steps WHERE saga_id = $1 AND name = 'wait'`, [sid])
      return r.rows[0]?.status === 'pending' && r.rows[0].attempts === 1
    })
    // A second overdue saga whose worker still holds a live lease: that worker handles its own deadline.
    const { saga: held } = await engine.start('deadline', {})
    await t.db.query(`UPDATE sagas SET status = 'running', lease_owner = 'alive', due_at = now() + interval '1 minute', deadline_at = now() - interval '1 second' WHERE id = $1`, [held.id])
    const saga = await engine.get(id!)
    expect(saga.status).toBe('running')
    await new Promise((r) => setTimeout(r, Math.max(0, saga.deadlineAt!.getTime() - Date.now() + 20)))

    const summary = await pass()
    expect(summary).toMatchObject({ timedOut: 1, compensated: 1, reclaimed: 0, suspended: 0, errors: 0, interventionsOpened: 0, examined: 1 })
    const after = await engine.get(id!)
    expect(after).toMatchObject({ status: 'compensated', reason: 'timeout' })
    expect(undo(id!)).toEqual(['-wait', '-reserve'])
    const ev = await t.db.query<{ data: Record<string, unknown> }>(`SELECT data FROM events WHERE saga_id = $1 AND type = 'saga.compensating'`, [id])
    expect(ev.rows[0]!.data).toMatchObject({ reason: 'timeout', by: 'scheduler', plan: ['wait', 'reserve'] })
    expect(await engine.get(held.id)).toMatchObject({ status: 'running', leaseOwner: 'alive' })
    await engine.abort(held.id, { operator: 'test', reason: 'cleanup' })
  })

  it('reclaims leases that expired long ago, and runs the reclaimed compensation', async () => {
    const engine = new Engine(t.db)
    const [comp] = await dueCompensations(engine, 1)
    const { saga: running } = await engine.start('careful', {})
    const ghost = `UPDATE sagas SET lease_owner = 'ghost', due_at = now() - interval '1 minute', updated_at = now() - interval '20 minutes' WHERE id = $1`
    await t.db.query(ghost, [comp])
    await t.db.query(`UPDATE sagas SET status = 'running', step_index = 0, step_name = 'reserve' WHERE id = $1`, [running.id])
    await t.db.query(ghost, [running.id])
    // Expired, but progress is recent: not stuck yet, and not reclaimed by this pass's rule.
    const { saga: recent } = await engine.start('careful', {})
    await t.db.query(`UPDATE sagas SET status = 'running', step_index = 0, step_name = 'reserve', lease_owner = 'slow', due_at = now() - interval '1 second' WHERE id = $1`, [recent.id])

    const summary = await pass({ stuckAfterMs: 600_000 })
    expect(summary).toMatchObject({ reclaimed: 2, compensated: 1, timedOut: 0, errors: 0, examined: 2 })
    expect(await engine.get(comp!)).toMatchObject({ status: 'compensated', leaseOwner: null })
    expect(undo(comp!)).toEqual(['-charge', '-reserve'])
    const r = await engine.get(running.id)
    expect(r).toMatchObject({ status: 'running', leaseOwner: null })
    expect(r.dueAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1000)
    const ev = await t.db.query<{ saga_id: string; data: Record<string, unknown> }>(`SELECT saga_id, data FROM events WHERE type = 'saga.reclaimed' ORDER BY id`)
    expect(ev.rows.map((e) => e.saga_id).sort()).toEqual([comp, running.id].sort())
    expect(ev.rows[0]!.data).toMatchObject({ from: 'ghost', by: 'scheduler' })
    expect((await engine.get(recent.id)).leaseOwner).toBe('slow')
    for (const id of [running.id, recent.id]) await engine.abort(id, { operator: 'test', reason: 'cleanup' })
  })

  it('exhausted compensation retries suspend the saga and open an intervention', async () => {
    const engine = new Engine(t.db)
    const [id] = await dueCompensations(engine, 1, { charge: { compensation: ['transient'] } })
    const summary = await pass()
    expect(summary).toMatchObject({ suspended: 1, interventionsOpened: 1, compensated: 0, retryLater: 0, errors: 0 })
    expect(undo(id!)).toEqual(['-charge', '-charge'])
    const saga = await engine.get(id!)
    expect(saga.status).toBe('suspended')
    expect(saga.reason).toMatch(/^compensation of charge failed/)
    const iv = await t.db.query(`SELECT status, step, phase FROM interventions WHERE saga_id = $1 AND status = 'open'`, [id])
    expect(iv.rows).toEqual([{ status: 'open', step: 'charge', phase: 'compensation' }])
    await engine.abort(id!, { operator: 'test', reason: 'cleanup' })
  })

  it('stops claiming when the time budget is spent, lets the call in flight finish, and hands the saga back', async () => {
    const engine = new Engine(t.db)
    const ids = await dueCompensations(engine, 3, { charge: { compensation: ['slow:800'] } })
    const first = await pass({ maxRuntimeMs: 300, concurrency: 1 })
    expect(first).toMatchObject({ examined: 1, compensated: 0, retryLater: 1, errors: 0 })
    const started = ids.filter((id) => undo(id).length > 0)
    expect(started).toHaveLength(1)
    expect(undo(started[0]!)).toEqual(['-charge'])
    expect(await engine.get(started[0]!)).toMatchObject({ status: 'compensating', leaseOwner: null, currentStep: 'reserve' })

    const second = await pass({ limit: 2 })
    expect(second).toMatchObject({ examined: 2, compensated: 2, retryLater: 0 })
    const third = await pass()
    expect(third).toMatchObject({ examined: 1, compensated: 1 })
    for (const id of ids) expect(undo(id)).toEqual(['-charge', '-reserve'])
    expect(await pass()).toMatchObject({ examined: 0, compensated: 0, errors: 0 })
  })

  it('two passes at once run each compensation step once', async () => {
    const engine = new Engine(t.db)
    const ids = await dueCompensations(engine, 10, { charge: { compensation: ['slow:30'] } })
    const [a, b] = await Promise.all([pass({ concurrency: 3 }), pass({ concurrency: 3 })])
    expect(a.compensated + b.compensated).toBe(10)
    const dup = await t.db.query(
      `SELECT saga_id, step, attempt FROM events WHERE type = 'step.started' AND phase = 'compensation' AND saga_id = ANY($1::uuid[]) GROUP BY 1, 2, 3 HAVING count(*) > 1`,
      [ids],
    )
    expect(dup.rows).toEqual([])
    for (const id of ids) expect(undo(id)).toEqual(['-charge', '-reserve'])
  })

  it('counts and reports a saga it cannot run, and hands it back', async () => {
    const { saga } = await new Engine(t.db).start('careful', {})
    await t.db.query(`UPDATE sagas SET status = 'compensating', definition = 'gone', step_index = 0, step_name = 'reserve', comp_plan = '{0}' WHERE id = $1`, [saga.id])
    const messages: string[] = []
    const summary = await pass({ onError: (m) => messages.push(m) })
    expect(summary).toMatchObject({ examined: 1, errors: 1, compensated: 0 })
    expect(messages).toEqual([`saga ${saga.id}: definition "gone" version 1 not found`])
    const after = await t.db.query(`SELECT status, lease_owner FROM sagas WHERE id = $1`, [saga.id])
    expect(after.rows[0]).toEqual({ status: 'compensating', lease_owner: null })
    await t.db.query(`UPDATE sagas SET status = 'failed', due_at = NULL WHERE id = $1`, [saga.id])
  })
})
