import { randomUUID } from 'node:crypto'
import { v7 } from 'uuid'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkHealth, DEFAULT_THRESHOLDS, type HealthThresholds } from '../../src/db/queries/health.js'
import { journalSince, lastEventId, NORMALISED_REASON, sagaStats, summariseJournal } from '../../src/db/queries/stats.js'
import type { Queryable } from '../../src/db/types.js'
import { createSagaMetrics } from '../../src/engine/metrics.js'
import type { SagaStatus } from '../../src/engine/types.js'
import { drivers, useTestDatabase } from '../helpers/db.js'

// Rows are written directly, times relative to the database's now(): these tests read
// the tables the engine writes, they do not run the engine.

const MIN = 60_000
const HOUR = 60 * MIN

interface SagaSpec {
  status: SagaStatus
  definition?: string
  /** Created this long ago (default 1 min). */
  ago?: number
  /** Finished this long after creation (terminal statuses; default 1 s). */
  took?: number
  updatedAgo?: number
  dueAgo?: number | null
  reason?: string | null
  lastError?: string | null
  compPlan?: number[] | null
}

const TERMINAL = new Set(['completed', 'compensated', 'failed'])

async function insertSaga(q: Queryable, s: SagaSpec): Promise<string> {
  const ago = s.ago ?? MIN
  const id = v7({ msecs: Date.now() - ago })
  const took = TERMINAL.has(s.status) ? (s.took ?? 1000) : null
  const active = ['pending', 'running', 'compensating'].includes(s.status)
  const dueAgo = s.dueAgo === undefined ? (active ? ago : null) : s.dueAgo
  await q.query(
    `INSERT INTO sagas (id, definition, version, status, input, comp_plan, reason, last_error, created_at, finished_at, updated_at, due_at)
     SELECT $1, $2, 1, $3, '{}', $4::int[], $5, $6, c, f, COALESCE(now() - $8::float8 * interval '1 ms', f, c), now() - $9::float8 * interval '1 ms'
     FROM (SELECT now() - $7::float8 * interval '1 ms' AS c) t, LATERAL (SELECT t.c + $10::float8 * interval '1 ms' AS f) u`,
    [id, s.definition ?? 'checkout', s.status, s.compPlan ?? null, s.reason ?? null, s.lastError ?? null, ago, s.updatedAgo ?? null, dueAgo, took],
  )
  return id
}

async function insertStep(q: Queryable, sagaId: string, index: number, phase: string, name: string, status: string, attempts: number): Promise<void> {
  await q.query(`INSERT INTO steps (saga_id, step_index, phase, name, status, attempts) VALUES ($1, $2, $3, $4, $5, $6)`, [sagaId, index, phase, name, status, attempts])
}

interface EventSpec {
  ago: number
  step?: string
  phase?: string
  attempt?: number
  data?: Record<string, unknown>
}

async function insertEvent(q: Queryable, sagaId: string, type: string, e: EventSpec): Promise<void> {
  await q.query(`INSERT INTO events (saga_id, type, step, phase, attempt, data, at) VALUES ($1, $2, $3, $4, $5, $6, now() - $7::float8 * interval '1 ms')`, [
    sagaId,
    type,
    e.step ?? null,
    e.phase ?? null,
    e.attempt ?? null,
    e.data ? JSON.stringify(e.data) : null,
    e.ago,
  ])
}

async function insertIntervention(q: Queryable, sagaId: string = randomUUID()): Promise<void> {
  await q.query(`INSERT INTO interventions (saga_id, id, status, reason) VALUES ($1, $2, 'open', 'compensation exhausted')`, [sagaId, randomUUID()])
}

async function insertWorker(q: Queryable, id: string, heartbeatAgo: number, stopped = false): Promise<void> {
  await q.query(
    `INSERT INTO workers (id, host, pid, concurrency, heartbeat_at, stopped_at) VALUES ($1, 'host-a', 1, 4, now() - $2::float8 * interval '1 ms', CASE WHEN $3 THEN now() END)`,
    [id, heartbeatAgo, stopped],
  )
}

/** percentile_cont, computed independently: linear interpolation between closest ranks. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const pos = p * (sorted.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

/** The Prometheus text format, read back: `value('name', {label: 'v'})`. */
function parseMetrics(text: string): (name: string, labels?: Record<string, string>) => number | undefined {
  const samples = text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(l)!
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]))
      return { name: m[1]!, labels, value: Number(m[3]) }
    })
  return (name, labels = {}) =>
    samples.find((s) => s.name === name && Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

const FAIL_500 = (n: number) => `process-payment failed: HTTP 500 (after ${n} attempts)`

describe.each(drivers)('monitoring queries on %s', (kind) => {
  describe('stats', () => {
    const t = useTestDatabase(kind)
    const finished = { checkout: [] as number[], other: [] as number[] }

    beforeAll(async () => {
      const q = t.db
      const completed: string[] = []
      for (let i = 1; i <= 7; i++) completed.push(await insertSaga(q, { status: 'completed', ago: 2 * HOUR + i * MIN, took: i * 1000 }))
      const compA = await insertSaga(q, { status: 'compensated', ago: 20 * MIN, took: 20_000, reason: FAIL_500(3), compPlan: [0] })
      const compB = await insertSaga(q, { status: 'compensated', ago: 21 * MIN, took: 30_000, reason: FAIL_500(5), compPlan: [0] })
      await insertSaga(q, { status: 'failed', ago: 22 * MIN, took: 60_000, reason: `operator abort: duplicate of ${randomUUID()}` })
      const susp = await insertSaga(q, { status: 'suspended', ago: 23 * MIN, lastError: FAIL_500(4), compPlan: [0] })
      await insertSaga(q, { status: 'running', ago: 5 * MIN, lastError: 'HTTP 503' })
      await insertSaga(q, { status: 'pending', ago: 4 * MIN })
      await insertSaga(q, { status: 'pending', ago: 3 * MIN })
      await insertSaga(q, { status: 'compensating', ago: 10 * MIN, reason: 'timeout', compPlan: [0] })
      const old = await insertSaga(q, { status: 'completed', ago: 48 * HOUR, took: 999_000 })
      await insertSaga(q, { status: 'completed', definition: 'other', ago: 30 * MIN, took: 500 })
      await insertSaga(q, { status: 'failed', definition: 'other', ago: 31 * MIN, took: 90_000, reason: 'timeout' })
      finished.checkout = [1000, 2000, 3000, 4000, 5000, 6000, 7000, 20_000, 30_000, 60_000]
      finished.other = [500, 90_000]

      await insertStep(q, compA, 0, 'action', 'reserve-inventory', 'succeeded', 2)
      await insertStep(q, compA, 1, 'action', 'process-payment', 'failed', 3)
      await insertStep(q, compA, 0, 'compensation', 'reserve-inventory', 'succeeded', 1)
      await insertStep(q, compB, 0, 'action', 'reserve-inventory', 'succeeded', 1)
      await insertStep(q, compB, 1, 'action', 'process-payment', 'failed', 5)
      await insertStep(q, susp, 1, 'action', 'process-payment', 'failed', 4)
      await insertStep(q, susp, 0, 'compensation', 'reserve-inventory', 'failed', 5)
      await insertStep(q, completed[0]!, 0, 'action', 'reserve-inventory', 'succeeded', 2)
      await insertStep(q, old, 1, 'action', 'process-payment', 'failed', 9)
    })

    it('counts by status, rates and percentiles over the sagas created in the period', async () => {
      const s = await sagaStats(t.db, { sinceMs: 24 * HOUR })
      expect(s.counts).toEqual({ pending: 2, running: 1, compensating: 1, suspended: 1, completed: 8, compensated: 2, failed: 2 })
      expect(s.total).toBe(17)
      expect(s.successRate).toBeCloseTo(8 / 12)
      expect(s.compensationRate).toBeCloseTo(2 / 12)
      const all = [...finished.checkout, ...finished.other]
      expect(s.durationMs.p50).toBeCloseTo(percentile(all, 0.5), 3)
      expect(s.durationMs.p95).toBeCloseTo(percentile(all, 0.95), 3)
      expect(s.durationMs.p99).toBeCloseTo(percentile(all, 0.99), 3)
      expect(Math.abs(s.since.getTime() - (Date.now() - 24 * HOUR))).toBeLessThan(MIN)
      expect(s.definition).toBeNull()
    })

    it('narrows by definition and by period', async () => {
      const checkout = await sagaStats(t.db, { sinceMs: 24 * HOUR, definition: 'checkout' })
      expect(checkout.total).toBe(15)
      expect(checkout.counts.failed).toBe(1)
      expect(checkout.durationMs.p50).toBeCloseTo(percentile(finished.checkout, 0.5), 3)
      expect(checkout.durationMs.p99).toBeCloseTo(percentile(finished.checkout, 0.99), 3)
      const lastHour = await sagaStats(t.db, { sinceMs: HOUR })
      expect(lastHour.total).toBe(10)
      expect(lastHour.counts.completed).toBe(1)
      const threeDays = await sagaStats(t.db, { sinceMs: 72 * HOUR })
      expect(threeDays.counts.completed).toBe(9)
      const none = await sagaStats(t.db, { sinceMs: HOUR, definition: 'nope' })
      expect(none).toMatchObject({ total: 0, successRate: null, compensationRate: null, durationMs: { p50: null, p95: null, p99: null }, topFailures: [], stepFailures: [] })
    })

    it('groups failure reasons with ids and counts stripped', async () => {
      const s = await sagaStats(t.db, { sinceMs: 24 * HOUR })
      expect(s.topFailures).toEqual([
        { reason: 'process-payment failed: HTTP 500 (after N attempts)', count: 3 },
        { reason: 'timeout', count: 2 },
        { reason: 'operator abort: duplicate of <id>', count: 1 },
      ])
    })

    it('normalises ids, numbers and addresses but keeps HTTP statuses', async () => {
      const cases: Array<[string | null, string | null, string]> = [
        ['HTTP 500 after 3 attempts', null, 'HTTP 500 after N attempts'],
        ['connect ECONNREFUSED 127.0.0.1:7002', null, 'connect ECONNREFUSED N:N'],
        ['saga 0190F3B4-1234-7abc-8def-0123456789ab not found', null, 'saga <id> not found'],
        ['timed out after 10000ms (1.5s)', null, 'timed out after Nms (Ns)'],
        ['step2 failed', null, 'step2 failed'],
        [null, 'HTTP 409 conflict', 'HTTP 409 conflict'],
        ['', 'HTTP 503', 'HTTP 503'],
      ]
      const values = cases.map((_, i) => `($${i * 2 + 1}::text, $${i * 2 + 2}::text, ${i})`).join(', ')
      const res = await t.db.query<{ r: string }>(`SELECT ${NORMALISED_REASON} AS r FROM (VALUES ${values}) s(reason, last_error, n) ORDER BY n`, cases.flatMap(([a, b]) => [a, b]))
      expect(res.rows.map((r) => r.r)).toEqual(cases.map((c) => c[2]))
    })

    it('counts failed steps and retries per definition, step and phase', async () => {
      const s = await sagaStats(t.db, { sinceMs: 24 * HOUR })
      expect(s.stepFailures).toEqual([
        { definition: 'checkout', step: 'process-payment', phase: 'action', failures: 3, retries: 9 },
        { definition: 'checkout', step: 'reserve-inventory', phase: 'compensation', failures: 1, retries: 4 },
        { definition: 'checkout', step: 'reserve-inventory', phase: 'action', failures: 0, retries: 2 },
      ])
    })
  })

  describe('health', () => {
    const t = useTestDatabase(kind)
    const check = (over: Partial<HealthThresholds> = {}) => checkHealth(t.db, { ...DEFAULT_THRESHOLDS, ...over })
    const failing = async (over?: Partial<HealthThresholds>) => (await check(over)).rules.filter((r) => !r.ok).map((r) => r.name)

    beforeAll(async () => {
      const q = t.db
      await insertWorker(q, 'w-live', 5000)
      await insertWorker(q, 'w-silent', 10 * MIN)
      await insertWorker(q, 'w-stopped', 1000, true)
      await insertSaga(q, { status: 'running', ago: MIN, updatedAgo: 0 })
      await insertSaga(q, { status: 'running', ago: 8 * MIN, updatedAgo: MIN })
      await insertSaga(q, { status: 'running', ago: 20 * MIN, updatedAgo: 15 * MIN })
      await insertSaga(q, { status: 'pending', ago: 12 * MIN })
      const quick = await insertSaga(q, { status: 'compensated', ago: 15 * MIN, took: 5 * MIN, compPlan: [1, 0] })
      await insertEvent(q, quick, 'saga.compensating', { ago: 11 * MIN })
      // A slow compensation that ended two hours ago is outside the rules' window.
      const slowOld = await insertSaga(q, { status: 'compensated', ago: 3 * HOUR, took: HOUR, compPlan: [0] })
      await insertEvent(q, slowOld, 'saga.compensating', { ago: 2 * HOUR + 30 * MIN })
    })

    it('reports active, long-running, stuck, interventions and live workers; healthy', async () => {
      const h = await check()
      expect(h).toMatchObject({ healthy: true, active: 4, longRunning: 3, stuck: 2, openInterventions: 0, liveWorkers: 1 })
      expect(h.rules.map((r) => [r.name, r.ok])).toEqual([
        ['compensation-success', true],
        ['open-interventions', true],
        ['compensation-duration', true],
        ['live-workers', true],
        ['open-circuits', true],
      ])
      expect(h.rules[0]).toMatchObject({ value: 1, threshold: 0.9 })
      expect(h.rules[2]!.value).toBeCloseTo(MIN, -3)
      expect((await check({ stuckAfterMs: 30 * MIN, longRunningAfterMs: 10 * MIN })).stuck).toBe(0)
      expect((await check({ stuckAfterMs: 30 * MIN, longRunningAfterMs: 10 * MIN })).longRunning).toBe(2)
      expect((await check({ workerLivenessMs: 15 * MIN })).liveWorkers).toBe(2)
    })

    it('too many open interventions is unhealthy until they are resolved', async () => {
      for (let i = 0; i < 11; i++) await insertIntervention(t.db)
      const h = await check()
      expect(h.healthy).toBe(false)
      expect(h.rules.find((r) => r.name === 'open-interventions')).toMatchObject({ ok: false, value: 11, threshold: 10, message: 'open interventions 11 > 10' })
      expect(await failing({ maxOpenInterventions: 11 })).toEqual([])
      await t.db.query(`UPDATE interventions SET status = 'resolved', resolved_at = now()`)
      expect((await check()).healthy).toBe(true)
    })

    it('a compensation slower than the limit is unhealthy, running or ended in the last hour', async () => {
      const slow = await insertSaga(t.db, { status: 'compensating', ago: 10 * MIN, updatedAgo: 0, compPlan: [0] })
      await insertEvent(t.db, slow, 'saga.compensating', { ago: 6 * MIN })
      let rule = (await check()).rules.find((r) => r.name === 'compensation-duration')!
      expect(rule.ok).toBe(false)
      expect(rule.message).toMatch(new RegExp(`^1 compensation\\(s\\) slower than 5m 00s, longest 6m 0\\ds \\(saga ${slow}\\)$`))
      expect(await failing({ maxCompensationDurationMs: 10 * MIN })).toEqual([])
      await t.db.query(`UPDATE sagas SET status = 'compensated', finished_at = now(), due_at = NULL WHERE id = $1`, [slow])
      rule = (await check()).rules.find((r) => r.name === 'compensation-duration')!
      expect(rule.ok).toBe(false)
      await t.db.query(`UPDATE sagas SET finished_at = now() - interval '2 hours' WHERE id = $1`, [slow])
      expect((await check()).healthy).toBe(true)
    })

    it('low compensation success in the last hour is unhealthy until they compensate', async () => {
      const bad = [
        await insertSaga(t.db, { status: 'suspended', ago: 20 * MIN, updatedAgo: 5 * MIN, compPlan: [0] }),
        await insertSaga(t.db, { status: 'suspended', ago: 20 * MIN, updatedAgo: 5 * MIN, compPlan: [0] }),
        await insertSaga(t.db, { status: 'failed', ago: 20 * MIN, took: 15 * MIN, compPlan: [0] }),
      ]
      // Suspended on a forward step (no compensation plan) is not a failed compensation.
      await insertSaga(t.db, { status: 'suspended', ago: 20 * MIN, updatedAgo: 5 * MIN })
      const h = await check()
      const rule = h.rules.find((r) => r.name === 'compensation-success')!
      expect(rule).toMatchObject({ ok: false, value: 0.25, threshold: 0.9, message: 'compensation success 25% < 90% in the last hour (1 of 4)' })
      expect(await failing({ minCompensationSuccess: 0.25 })).toEqual([])
      await t.db.query(`UPDATE sagas SET status = 'compensated', finished_at = now() - interval '5 minutes' WHERE id = ANY($1::uuid[])`, [bad])
      expect((await check()).rules.find((r) => r.name === 'compensation-success')).toMatchObject({ ok: true, value: 1 })
    })

    it('no live worker while sagas are active is unhealthy; with nothing active it is fine', async () => {
      await t.db.query(`UPDATE workers SET stopped_at = now() WHERE id = 'w-live'`)
      const h = await check()
      expect(h.rules.find((r) => r.name === 'live-workers')).toMatchObject({ ok: false, value: 0, message: 'no live worker while 4 sagas are active' })
      await t.db.query(`UPDATE sagas SET status = 'completed', finished_at = now() - interval '3 hours' WHERE status IN ('pending', 'running')`)
      expect(await check()).toMatchObject({ healthy: true, active: 0, stuck: 0 })
    })
  })
  describe('the journal tail', () => {
    const t = useTestDatabase(kind)

    it('is found through the BRIN index on a large journal, and where it ends survives ids that rolled back', async () => {
      const saga = await insertSaga(t.db, { status: 'running' })
      // Events of many sagas, as a real journal has (PostgreSQL 18 would skip-scan the primary key of one saga's).
      await t.db.query(`INSERT INTO events (saga_id, type) SELECT gen_random_uuid(), 'step.started' FROM generate_series(1, 60000)`)
      await summariseJournal(t.db)
      // Everything is summarised: nothing is left for a tail query to read in full.
      const left = await t.db.query<{ n: number }>(`SELECT brin_summarize_new_values('events_id_brin'::regclass)::int AS n`)
      expect(left.rows[0]!.n).toBe(0)
      await t.db.exec('ANALYZE events')
      const end = await lastEventId(t.db)
      expect(end).toBe(Number((await t.db.query<{ m: string }>(`SELECT max(id) AS m FROM events`)).rows[0]!.m))
      const plan = await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM events WHERE id > ${end - 100} ORDER BY id LIMIT 50`)
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('Bitmap Index Scan on events_id_brin')
      const tail = await journalSince(t.db, end - 100, { limit: 50, settleMs: 0 })
      expect(tail.map((e) => e.id)).toEqual(Array.from({ length: 50 }, (_, i) => end - 99 + i))

      // Ids taken by writes that rolled back leave a gap past the sequence's lookback.
      await t.db.transaction(async (tx) => {
        await tx.query(`INSERT INTO events (saga_id, type) SELECT $1, 'step.started' FROM generate_series(1, 1500)`, [saga])
        throw new Error('roll back')
      }).catch(() => {})
      expect(await lastEventId(t.db)).toBe(end)
    })
  })

  describe('metrics', () => {
    const t = useTestDatabase(kind)
    const ids: Record<string, string> = {}

    beforeAll(async () => {
      const q = t.db
      await q.query(`INSERT INTO definitions (name, version, checksum, spec, source) VALUES ('checkout', 1, 'x', '{}', ''), ('idle', 1, 'y', '{}', '')`)
      ids.running = await insertSaga(q, { status: 'running', ago: 10_000 })
      await insertSaga(q, { status: 'running', ago: 10_000 })
      ids.suspended = await insertSaga(q, { status: 'suspended', compPlan: [0] })
      for (let i = 0; i < 3; i++) await insertSaga(q, { status: 'completed', ago: 2 * HOUR })
      await insertSaga(q, { status: 'completed', ago: 48 * HOUR })
      ids.failed = await insertSaga(q, { status: 'failed', definition: 'other' })
      await insertIntervention(q, ids.suspended)
      await insertIntervention(q)
      await insertWorker(q, 'w-live', 3000)
      await insertWorker(q, 'w-silent', 2 * MIN)
      await insertWorker(q, 'w-stopped', 1000, true)
    })

    it('reads gauges from current state and counts the journal from where it ended', async () => {
      const metrics = createSagaMetrics(t.db, { settleMs: 2000 })
      // Older than the metrics: never counted.
      await insertEvent(t.db, ids.running!, 'step.failed', { ago: HOUR, step: 'a', phase: 'action', data: { kind: 'transient', retryAt: 'x' } })
      let m = parseMetrics(await metrics.render())
      expect(m('sagactl_sagas', { status: 'running', definition: 'checkout' })).toBe(2)
      expect(m('sagactl_sagas', { status: 'suspended', definition: 'checkout' })).toBe(1)
      expect(m('sagactl_sagas', { status: 'completed', definition: 'checkout' })).toBe(3)
      expect(m('sagactl_sagas', { status: 'failed', definition: 'other' })).toBe(1)
      expect(m('sagactl_sagas', { status: 'pending', definition: 'idle' })).toBe(0)
      expect(m('sagactl_open_interventions')).toBe(2)
      expect(m('sagactl_live_workers')).toBe(1)
      expect(m('sagactl_worker_heartbeat_age_seconds', { worker: 'w-live' })).toBeGreaterThanOrEqual(2)
      expect(m('sagactl_worker_heartbeat_age_seconds', { worker: 'w-silent' })).toBeGreaterThanOrEqual(119)
      expect(m('sagactl_worker_heartbeat_age_seconds', { worker: 'w-stopped' })).toBeUndefined()
      expect(m('sagactl_step_retries_total', { definition: 'checkout', step: 'a', phase: 'action' })).toBeUndefined()

      // One transaction: one now(), so the durations between events are exact.
      await t.db.transaction(async (tx) => {
        const ev = (type: string, ago: number, e: Partial<EventSpec> = {}, saga = ids.running!) => insertEvent(tx, saga, type, { ago, step: 'reserve', phase: 'action', ...e })
        await ev('step.started', 30_000, { attempt: 1 })
        await ev('step.failed', 29_500, { attempt: 1, data: { kind: 'transient', error: 'HTTP 503', retryAt: 'x' } })
        await ev('step.started', 29_000, { attempt: 2 })
        await ev('step.failed', 28_000, { attempt: 2, data: { kind: 'pending', error: 'HTTP 425', retryAt: 'x' } })
        await ev('step.started', 27_000, { attempt: 2 })
        await ev('step.succeeded', 26_750, { attempt: 2 })
        await ev('saga.compensating', 26_000, { step: undefined, phase: undefined, data: { reason: 'timeout' } })
        await ev('step.started', 25_000, { phase: 'compensation', attempt: 1 })
        await ev('step.succeeded', 24_000, { phase: 'compensation', attempt: 1, data: { durationMs: 1500 } })
        await ev('saga.compensated', 23_000, { step: undefined, phase: undefined })
        await ev('saga.suspended', 20_000, { phase: 'compensation' }, ids.suspended!)
        await ev('saga.failed', 20_000, { step: undefined, phase: undefined }, ids.failed!)
      })
      m = parseMetrics(await metrics.render())
      const action = { definition: 'checkout', step: 'reserve', phase: 'action' }
      expect(m('sagactl_step_retries_total', action)).toBe(1)
      expect(m('sagactl_step_duration_seconds_count', action)).toBe(3)
      expect(m('sagactl_step_duration_seconds_sum', action)).toBeCloseTo(1.75, 3)
      expect(m('sagactl_step_duration_seconds_bucket', { ...action, le: '0.25' })).toBe(1)
      expect(m('sagactl_step_duration_seconds_bucket', { ...action, le: '0.5' })).toBe(2)
      expect(m('sagactl_step_duration_seconds_bucket', { ...action, le: '1' })).toBe(3)
      expect(m('sagactl_step_duration_seconds_sum', { ...action, phase: 'compensation' })).toBeCloseTo(1.5, 3)
      expect(m('sagactl_compensations_total', { definition: 'checkout', outcome: 'started' })).toBe(1)
      expect(m('sagactl_compensations_total', { definition: 'checkout', outcome: 'compensated' })).toBe(1)
      expect(m('sagactl_compensations_total', { definition: 'checkout', outcome: 'suspended' })).toBe(1)
      expect(m('sagactl_compensations_total', { definition: 'other', outcome: 'failed' })).toBeUndefined()

      // A fresh event holds back everything after it, so an id taken by a transaction
      // that has not committed yet is never skipped.
      await insertEvent(t.db, ids.running!, 'step.started', { ago: 0, step: 'reserve', phase: 'action', attempt: 3 })
      await insertEvent(t.db, ids.running!, 'step.failed', { ago: 10_000, step: 'reserve', phase: 'action', attempt: 3, data: { kind: 'transient', retryAt: 'x' } })
      m = parseMetrics(await metrics.render())
      expect(m('sagactl_step_retries_total', action)).toBe(1)
      await t.db.query(`UPDATE events SET at = now() - interval '11 seconds' WHERE type = 'step.started' AND attempt = 3`)
      m = parseMetrics(await metrics.render())
      expect(m('sagactl_step_retries_total', action)).toBe(2)
      expect(m('sagactl_step_duration_seconds_count', action)).toBe(4)
    })
  })
})
