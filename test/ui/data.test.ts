import { v7 as uuidv7 } from 'uuid'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Queryable } from '../../src/db/types.js'
import type { SagaStatus } from '../../src/engine/types.js'
import { createMonitorData, type MonitorData } from '../../src/ui/data.js'
import { normaliseError } from '../../src/ui/data-problems.js'
import { drivers, useTestDatabase } from '../helpers/db.js'

const MIN = 60_000

interface SagaFixture {
  id?: string
  definition?: string
  version?: number
  status?: SagaStatus
  stepIndex?: number | null
  step?: string | null
  revision?: number
  lastError?: string | null
  reason?: string | null
  leaseOwner?: string | null
  /** Relative to the database clock; negative = in the past. */
  dueInMs?: number | null
  createdAgoMs?: number
  updatedAgoMs?: number
  finishedAgoMs?: number | null
}

async function insertSaga(db: Queryable, f: SagaFixture = {}): Promise<string> {
  const id = f.id ?? uuidv7()
  const status = f.status ?? 'running'
  const terminal = status === 'completed' || status === 'compensated' || status === 'failed'
  const finishedAgo = f.finishedAgoMs !== undefined ? f.finishedAgoMs : terminal ? 0 : null
  await db.query(
    `INSERT INTO sagas (id, definition, version, status, step_index, step_name, input, revision, due_at, lease_owner, last_error, reason, created_at, updated_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, '{}', $7,
       now() + $8::double precision * interval '1 millisecond', $9, $10, $11,
       now() - $12::double precision * interval '1 millisecond',
       now() - $13::double precision * interval '1 millisecond',
       now() - $14::double precision * interval '1 millisecond')`,
    [
      id,
      f.definition ?? 'order-checkout',
      f.version ?? 1,
      status,
      f.stepIndex === undefined ? 0 : f.stepIndex,
      f.step === undefined ? 'validate-customer' : f.step,
      f.revision ?? 1,
      f.dueInMs ?? null,
      f.leaseOwner ?? null,
      f.lastError ?? null,
      f.reason ?? null,
      f.createdAgoMs ?? f.updatedAgoMs ?? 0,
      f.updatedAgoMs ?? 0,
      finishedAgo,
    ],
  )
  return id
}

async function insertStep(db: Queryable, sagaId: string, s: { index: number; name: string; phase?: string; status?: string; attempts?: number; lastError?: string; startedAgoMs?: number }): Promise<void> {
  await db.query(
    `INSERT INTO steps (saga_id, step_index, phase, name, status, attempts, last_error, started_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now() - $8::double precision * interval '1 millisecond')`,
    [sagaId, s.index, s.phase ?? 'action', s.name, s.status ?? 'succeeded', s.attempts ?? 1, s.lastError ?? null, s.startedAgoMs ?? 0],
  )
}

async function insertIntervention(db: Queryable, sagaId: string, i: { status?: 'open' | 'resolved'; reason?: string; step?: string; agoMs?: number } = {}): Promise<string> {
  const id = uuidv7()
  await db.query(
    `INSERT INTO interventions (saga_id, id, status, reason, step, phase, created_at)
     VALUES ($1, $2, $3, $4, $5, 'compensation', now() - $6::double precision * interval '1 millisecond')`,
    [sagaId, id, i.status ?? 'open', i.reason ?? 'compensation retries exhausted', i.step ?? 'process-payment', i.agoMs ?? 0],
  )
  return id
}

async function insertWorker(db: Queryable, id: string, heartbeatAgoMs: number, stopped = false): Promise<void> {
  await db.query(
    `INSERT INTO workers (id, host, pid, concurrency, heartbeat_at, stopped_at)
     VALUES ($1, 'host', 1, 4, now() - $2::double precision * interval '1 millisecond', CASE WHEN $3::boolean THEN now() END)`,
    [id, heartbeatAgoMs, stopped],
  )
}

async function insertDefinition(db: Queryable, name: string, version: number): Promise<void> {
  await db.query(`INSERT INTO definitions (name, version, checksum, spec, source) VALUES ($1, $2, $3, '{}', '')`, [name, version, `${name}-${version}`])
}

for (const kind of drivers) {
  describe(`monitor data (${kind})`, () => {
    const t = useTestDatabase(kind)
    let data: MonitorData
    beforeAll(() => {
      data = createMonitorData(t.db, { displayUrl: t.db.displayUrl, schema: t.db.schema })
    })
    beforeEach(async () => {
      await t.db.exec('TRUNCATE sagas, steps, events, interventions, workers, definitions')
    })

    it('header: live workers, active counts, last hour, throughput, open interventions', async () => {
      for (const status of ['pending', 'running', 'running', 'compensating', 'suspended', 'suspended', 'suspended'] as const) await insertSaga(t.db, { status })
      await insertSaga(t.db, { status: 'completed', finishedAgoMs: 10_000 })
      await insertSaga(t.db, { status: 'completed', finishedAgoMs: 5 * MIN })
      await insertSaga(t.db, { status: 'failed', finishedAgoMs: 30 * MIN })
      await insertSaga(t.db, { status: 'completed', finishedAgoMs: 2 * 60 * MIN })
      await insertWorker(t.db, 'live', 1000)
      await insertWorker(t.db, 'stale', 45_000)
      await insertWorker(t.db, 'stopped', 1000, true)
      const s = await insertSaga(t.db, { status: 'suspended' })
      await insertIntervention(t.db, s)
      await insertIntervention(t.db, await insertSaga(t.db, { status: 'completed', finishedAgoMs: 3 * 60 * MIN }), { status: 'resolved' })

      const h = await data.header()
      expect(h).toMatchObject({
        displayUrl: t.db.displayUrl,
        schema: t.db.schema,
        workers: 1,
        active: { pending: 1, running: 2, compensating: 1, suspended: 4 },
        lastHour: { completed: 2, compensated: 0, failed: 1 },
        finishedLastMinute: 1,
        openInterventions: 1,
      })
      expect(h.now).toBeInstanceOf(Date)
    })

    it('live sagas: newest first, bounded, filtered by status, definition and text', async () => {
      const a = await insertSaga(t.db, { status: 'running', definition: 'order-checkout', step: 'reserve-inventory' })
      const b = await insertSaga(t.db, { status: 'suspended', definition: 'refund', step: 'process-payment', lastError: 'HTTP 503 from payment' })
      const c = await insertSaga(t.db, { status: 'completed', definition: 'order-checkout' })
      const d = await insertSaga(t.db, { status: 'pending', definition: 'order_checkout' })

      expect((await data.liveSagas({ limit: 10 })).map((s) => s.id)).toEqual([d, c, b, a])
      expect((await data.liveSagas({ limit: 2 })).map((s) => s.id)).toEqual([d, c])
      expect((await data.liveSagas({ status: ['pending', 'running', 'compensating', 'suspended'], limit: 10 })).map((s) => s.id)).toEqual([d, b, a])
      expect((await data.liveSagas({ status: ['running', 'suspended'], limit: 1 })).map((s) => s.id)).toEqual([b])
      expect((await data.liveSagas({ status: 'completed', limit: 10 })).map((s) => s.id)).toEqual([c])
      expect((await data.liveSagas({ status: [], limit: 10 })).map((s) => s.id)).toEqual([])
      expect((await data.liveSagas({ definition: 'order-checkout', limit: 10 })).map((s) => s.id)).toEqual([c, a])
      expect((await data.liveSagas({ text: a.slice(0, 30).toUpperCase(), limit: 10 })).map((s) => s.id)).toEqual([a])
      expect((await data.liveSagas({ text: 'refu', limit: 10 })).map((s) => s.id)).toEqual([b])
      expect((await data.liveSagas({ text: 'INVENTORY', limit: 10 })).map((s) => s.id)).toEqual([a])
      expect((await data.liveSagas({ text: '503', status: 'suspended', limit: 10 })).map((s) => s.id)).toEqual([b])
      // `_` is a character to look for, not a wildcard.
      expect((await data.liveSagas({ text: 'order_', limit: 10 })).map((s) => s.id)).toEqual([d])
      expect((await data.liveSagas({ text: '%', limit: 10 })).map((s) => s.id)).toEqual([])
    })

    it('stuck: idle past the threshold, longest first, with the reason', async () => {
      const pending = await insertSaga(t.db, { status: 'pending', step: null, stepIndex: null, createdAgoMs: 11 * MIN + 5000, updatedAgoMs: 11 * MIN + 5000 })
      const retrying = await insertSaga(t.db, { status: 'running', stepIndex: 1, step: 'reserve-inventory', updatedAgoMs: 12 * MIN + 5000, dueInMs: 30_000 })
      await insertStep(t.db, retrying, { index: 1, name: 'reserve-inventory', status: 'failed', attempts: 3, lastError: 'HTTP 503\nService Unavailable' })
      const leased = await insertSaga(t.db, { status: 'compensating', stepIndex: 2, step: 'process-payment', leaseOwner: 'w1', dueInMs: -(2 * MIN + 5000), updatedAgoMs: 20 * MIN })
      await insertSaga(t.db, { status: 'running', updatedAgoMs: 1000 })
      await insertSaga(t.db, { status: 'suspended', updatedAgoMs: 60 * MIN })
      await insertSaga(t.db, { status: 'completed', updatedAgoMs: 60 * MIN })

      const rows = await data.stuck({ stuckAfterMs: 10 * MIN, limit: 10 })
      expect(rows.map((r) => r.saga.id)).toEqual([leased, retrying, pending])
      expect(rows.map((r) => r.why)).toEqual([
        'lease of worker w1 expired 2m ago',
        'no progress for 12m in reserve-inventory (attempt 3: HTTP 503); next attempt in 29s',
        'pending for 11m: no worker picked it up',
      ])
      expect(rows[1]!.attempts).toBe(3)
      expect(rows[1]!.idleMs).toBeGreaterThanOrEqual(12 * MIN)
      expect(await data.stuck({ stuckAfterMs: 10 * MIN, limit: 1 })).toHaveLength(1)
      expect(await data.stuck({ stuckAfterMs: 30 * MIN, limit: 10 })).toEqual([])
    })

    it('interventions: the open ones, oldest first, with their saga', async () => {
      const s1 = await insertSaga(t.db, { status: 'suspended', definition: 'refund', revision: 7 })
      const s2 = await insertSaga(t.db, { status: 'suspended' })
      const newer = await insertIntervention(t.db, s1, { agoMs: MIN, reason: 'payment unknown' })
      const older = await insertIntervention(t.db, s2, { agoMs: 5 * MIN })
      await insertIntervention(t.db, await insertSaga(t.db, { status: 'failed' }), { status: 'resolved' })

      const rows = await data.interventions({ limit: 10 })
      expect(rows.map((r) => r.intervention.id)).toEqual([older, newer])
      expect(rows[1]).toMatchObject({
        definition: 'refund',
        sagaStatus: 'suspended',
        sagaRevision: 7,
        intervention: { sagaId: s1, status: 'open', reason: 'payment unknown', step: 'process-payment', phase: 'compensation' },
      })
      expect(await data.interventions({ limit: 1 })).toHaveLength(1)
    })

    it('definitions: latest version, active, the last 24 hours and the success rate', async () => {
      await insertDefinition(t.db, 'order-checkout', 1)
      await insertDefinition(t.db, 'order-checkout', 2)
      await insertDefinition(t.db, 'idle', 1)
      await insertSaga(t.db, { status: 'running' })
      await insertSaga(t.db, { status: 'suspended' })
      for (let i = 0; i < 3; i++) await insertSaga(t.db, { status: 'completed', finishedAgoMs: 60 * MIN })
      await insertSaga(t.db, { status: 'compensated', finishedAgoMs: 60 * MIN })
      await insertSaga(t.db, { status: 'failed', finishedAgoMs: 25 * 60 * MIN })
      await insertSaga(t.db, { status: 'completed', definition: 'unregistered' })

      expect(await data.definitions()).toEqual([
        { name: 'idle', latestVersion: 1, active: 0, completed: 0, compensated: 0, failed: 0, successRate: null },
        { name: 'order-checkout', latestVersion: 2, active: 2, completed: 3, compensated: 1, failed: 0, successRate: 0.75 },
        { name: 'unregistered', latestVersion: null, active: 0, completed: 1, compensated: 0, failed: 0, successRate: 1 },
      ])
    })

    it('detail: the saga, its step timeline, the last 15 events and the open intervention', async () => {
      const id = await insertSaga(t.db, { status: 'suspended', stepIndex: 1, step: 'reserve-inventory', revision: 4 })
      await insertStep(t.db, id, { index: 1, name: 'reserve-inventory', status: 'failed', attempts: 3, lastError: 'HTTP 503', startedAgoMs: 3000 })
      await insertStep(t.db, id, { index: 0, name: 'validate-customer', startedAgoMs: 4000 })
      await insertStep(t.db, id, { index: 0, name: 'validate-customer', phase: 'compensation', status: 'failed', startedAgoMs: 1000 })
      await insertStep(t.db, id, { index: 1, name: 'reserve-inventory', phase: 'compensation', startedAgoMs: 2000 })
      for (let i = 1; i <= 20; i++) {
        await t.db.query(`INSERT INTO events (saga_id, type, step, attempt) VALUES ($1, 'step.failed', 'reserve-inventory', $2)`, [id, i])
      }
      const iv = await insertIntervention(t.db, id)

      const d = await data.detail(id)
      expect(d!.saga).toMatchObject({ id, status: 'suspended', currentStep: 'reserve-inventory', revision: 4 })
      expect(d!.steps.map((s) => `${s.phase}:${s.name}`)).toEqual([
        'action:validate-customer',
        'action:reserve-inventory',
        'compensation:reserve-inventory',
        'compensation:validate-customer',
      ])
      expect(d!.events.map((e) => e.attempt)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
      expect(d!.intervention?.id).toBe(iv)
      expect(await data.detail(uuidv7())).toBeNull()
    })

    it('failure groups: by definition, step and normalised error, largest first', async () => {
      const ids: string[] = []
      for (const n of [41, 42, 43]) {
        ids.push(await insertSaga(t.db, { status: 'running', step: 'reserve-inventory', lastError: `HTTP 503 for order ${n} (${uuidv7()})`, revision: n }))
      }
      await insertSaga(t.db, { status: 'suspended', step: 'process-payment', lastError: null, reason: 'compensation of process-payment exhausted after 5 attempts' })
      await insertSaga(t.db, { status: 'compensating', step: 'reserve-inventory', lastError: 'HTTP 503 for order 7 (x)' })
      await insertSaga(t.db, { status: 'running', lastError: null })
      await insertSaga(t.db, { status: 'completed', lastError: 'HTTP 503 for order 1 (x)' })

      const groups = await data.failureGroups({ limit: 10 })
      expect(groups.map((g) => [g.definition, g.step, g.error, g.count])).toEqual([
        ['order-checkout', 'reserve-inventory', 'HTTP 503 for order # (<id>)', 3],
        ['order-checkout', 'process-payment', 'compensation of process-payment exhausted after # attempts', 1],
        ['order-checkout', 'reserve-inventory', 'HTTP 503 for order # (x)', 1],
      ])
      // Each member carries the state that decides what a group action is allowed on.
      expect(groups[0]!.sagas).toEqual([
        { id: ids[2], revision: 43, status: 'running', inCompensation: false },
        { id: ids[1], revision: 42, status: 'running', inCompensation: false },
        { id: ids[0], revision: 41, status: 'running', inCompensation: false },
      ])
      expect(groups[0]!.statuses).toEqual(['running'])
      expect(groups[0]!.sample).toMatch(/^HTTP 503 for order 4\d/)
      expect(normaliseError(groups[0]!.sample)).toBe(groups[0]!.error)
      expect(await data.failureGroups({ limit: 1 })).toHaveLength(1)
    })

    it('failure groups carry at most 1000 saga ids but the full count', async () => {
      await t.db.query(
        `INSERT INTO sagas (id, definition, version, status, step_name, input, last_error)
         SELECT gen_random_uuid(), 'bulk', 1, 'running', 's', '{}', 'boom ' || g FROM generate_series(1, 1005) g`,
      )
      const [group] = await data.failureGroups({ limit: 5 })
      expect(group).toMatchObject({ definition: 'bulk', error: 'boom #', count: 1005 })
      expect(group!.sagas).toHaveLength(1000)
    })

    it('sagas by ids: only the ones asked for', async () => {
      const a = await insertSaga(t.db)
      await insertSaga(t.db)
      const c = await insertSaga(t.db, { status: 'completed' })
      expect((await data.sagasByIds([a, c])).map((s) => s.id).sort()).toEqual([a, c].sort())
      expect(await data.sagasByIds([])).toEqual([])
    })

    it('every string a participant or operator wrote reaches the console escaped', async () => {
      const evil = 'HTTP 422 \u001b]0;pwned\u0007\u001b[2J\rok \u009b31m\nfake line'
      const id = await insertSaga(t.db, { lastError: evil, reason: evil })
      await t.db.query(`INSERT INTO steps (saga_id, step_index, phase, name, status, attempts, last_error) VALUES ($1, 0, 'action', 'pay', 'failed', 1, $2)`, [id, evil])
      await t.db.query(`INSERT INTO interventions (saga_id, id, status, reason) VALUES ($1, $2, 'open', $3)`, [id, uuidv7(), evil])
      const shown = 'HTTP 422 \\x1b]0;pwned\\x07\\x1b[2J\\x0dok \\x9b31m\\nfake line'
      const [live] = await data.liveSagas({ status: 'running', limit: 10 })
      expect(live!.lastError).toBe(shown)
      const detail = await data.detail(id)
      expect(detail!.saga.reason).toBe(shown)
      expect(detail!.steps[0]!.lastError).toBe(shown)
      expect((await data.interventions({ limit: 10 }))[0]!.intervention.reason).toBe(shown)
      // eslint-disable-next-line no-control-regex
      expect(JSON.stringify(await data.failureGroups({ limit: 10 }))).not.toMatch(/\\u001b|\\r/)
    })
  })
}
