import { beforeAll, describe, expect, it } from 'vitest'
import { auditSagaId, listAuditEntries } from '../../src/db/queries/audit.js'
import { countSagasBy, resolveSagaId } from '../../src/db/queries/sagas.js'
import { listWorkers } from '../../src/db/queries/workers.js'
import { channelFor } from '../../src/db/types.js'
import { deleteSaga } from '../../src/engine/delete.js'
import { Engine } from '../../src/engine/engine.js'
import { waitForSaga } from '../../src/engine/wait.js'
import { ChangedError, ConflictError, NotFoundError, UsageError } from '../../src/errors.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'
import { insertAudit, insertSaga } from '../helpers/fixtures.js'

const sqlState = (err: unknown) => (err as { code?: string }).code
const MIN = 60_000

describe.each(drivers)('saga count on %s', (kind) => {
  const t = useTestDatabase(kind)

  beforeAll(async () => {
    const old = new Date(Date.now() - 60 * MIN)
    await insertSaga(t.db, { definition: 'checkout', status: 'running', currentStep: 'charge', stepIndex: 1 })
    await insertSaga(t.db, { definition: 'checkout', status: 'running', currentStep: 'charge', stepIndex: 1, lastError: 'HTTP 503 after 3 attempts', updatedAt: old, createdAt: old })
    await insertSaga(t.db, { definition: 'checkout', status: 'suspended', currentStep: 'refund', stepIndex: 0, reason: 'compensation of refund failed: HTTP 500 after 3 attempts' })
    await insertSaga(t.db, { definition: 'checkout', status: 'suspended', currentStep: 'refund', stepIndex: 0, reason: 'compensation of refund failed: HTTP 500 after 5 attempts' })
    await insertSaga(t.db, { definition: 'shipping', status: 'completed', tags: { region: 'eu' } })
    await insertSaga(t.db, { definition: 'shipping', status: 'pending', tags: { region: 'eu' } })
  })

  it('groups by status in lifecycle order, and the filters of saga list apply', async () => {
    expect(await countSagasBy(t.db, {})).toEqual({
      by: 'status',
      total: 6,
      groups: [
        { key: 'pending', count: 1 },
        { key: 'running', count: 2 },
        { key: 'suspended', count: 2 },
        { key: 'completed', count: 1 },
      ],
    })
    expect(await countSagasBy(t.db, { tags: { region: 'eu' } }, 'definition')).toEqual({ by: 'definition', total: 2, groups: [{ key: 'shipping', count: 2 }] })
    expect((await countSagasBy(t.db, { failing: true })).groups).toEqual([{ key: 'running', count: 1 }])
    expect((await countSagasBy(t.db, { stuckAfterMs: 10 * MIN })).groups).toEqual([{ key: 'running', count: 1 }])
    expect(await countSagasBy(t.db, { status: ['compensated'] })).toEqual({ by: 'status', total: 0, groups: [] })
  })

  it('groups by definition, step and normalised error, largest first; no step or error is a null key', async () => {
    expect((await countSagasBy(t.db, {}, 'definition')).groups).toEqual([
      { key: 'checkout', count: 4 },
      { key: 'shipping', count: 2 },
    ])
    expect((await countSagasBy(t.db, { definition: 'checkout' }, 'step')).groups).toEqual([
      { key: 'charge', count: 2 },
      { key: 'refund', count: 2 },
    ])
    expect((await countSagasBy(t.db, { definition: 'shipping' }, 'step')).groups).toEqual([{ key: null, count: 2 }])
    expect((await countSagasBy(t.db, {}, 'error')).groups).toEqual([
      { key: null, count: 3 },
      { key: 'compensation of refund failed: HTTP 500 after N attempts', count: 2 },
      { key: 'HTTP 503 after N attempts', count: 1 },
    ])
  })
})

describe.each(drivers)('saga delete on %s', (kind) => {
  const t = useTestDatabase(kind)
  let engine: Engine
  const ctx = { operator: 'ana', reason: 'test order placed in production' }
  const count = async (table: string, id: string) =>
    Number((await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${table === 'sagas' ? 'id' : 'saga_id'} = $1`, [id])).rows[0]!.n)

  beforeAll(async () => {
    engine = new Engine(t.db)
    await applyYaml(t.db, scriptedDefinition('shop', [{ name: 'reserve' }]))
  })

  it('refuses a saga that is not finished, and changes nothing', async () => {
    const { saga } = await insertSaga(t.db, { definition: 'shop', status: 'suspended', key: 'order-1', intervention: {}, steps: [{ status: 'failed' }] })
    await expect(deleteSaga(t.db, saga.id, ctx)).rejects.toSatisfy(
      (e) => e instanceof ConflictError && !(e instanceof ChangedError) && (e as Error).message === `saga ${saga.id} is suspended: only a finished saga (completed, compensated or failed) can be deleted`,
    )
    await expect(deleteSaga(t.db, saga.id, { ...ctx, expectedRevision: saga.revision + 1 })).rejects.toBeInstanceOf(ChangedError)
    expect([await count('sagas', saga.id), await count('steps', saga.id), await count('interventions', saga.id), await count('audit_log', saga.id)]).toEqual([1, 1, 1, 0])
    expect((await t.db.query(`SELECT * FROM deleted_keys`)).rows).toEqual([])
    await expect(deleteSaga(t.db, '00000000-0000-7000-8000-000000000000', ctx)).rejects.toBeInstanceOf(NotFoundError)
    const finished = (await insertSaga(t.db, { definition: 'shop', status: 'completed' })).saga
    await expect(deleteSaga(t.db, finished.id, { ...ctx, reason: ' ' })).rejects.toBeInstanceOf(UsageError)
    await expect(deleteSaga(t.db, finished.id, { ...ctx, operator: '' })).rejects.toBeInstanceOf(UsageError)
    expect(await count('sagas', finished.id)).toBe(1)
  })

  it('deletes a finished saga and its rows; the audit row stays; its key is refused by the engine and by start_saga()', async () => {
    const { saga } = await insertSaga(t.db, {
      definition: 'shop',
      status: 'completed',
      key: 'order-1042',
      tags: { region: 'eu' },
      steps: [{ status: 'succeeded' }],
      events: [{ type: 'saga.created' }, { type: 'saga.completed' }],
      intervention: { status: 'resolved' },
      audit: [{ action: 'saga.retry', operator: 'bo' }],
    })
    const notices: string[] = []
    const unlisten = await t.db.listen((payload) => notices.push(payload))
    const deleted = await deleteSaga(t.db, saga.id, { ...ctx, expectedRevision: saga.revision })
    // Consoles re-read what they show: the notice names no saga, which means "re-read".
    await waitFor(async () => notices.includes('{"count":1}'))
    await unlisten()
    expect(deleted).toMatchObject({ id: saga.id, definition: 'shop', version: 1, status: 'completed', key: 'order-1042', deletedBy: 'ana' })
    for (const table of ['sagas', 'steps', 'events', 'interventions']) expect(await count(table, saga.id)).toBe(0)
    const audit = await listAuditEntries(t.db, { sagaId: saga.id, limit: 10 })
    expect(audit.items.map((a) => [a.action, a.operator])).toEqual([
      ['saga.delete', 'ana'],
      ['saga.retry', 'bo'],
    ])
    expect(audit.items[0]).toMatchObject({ target: saga.id, reason: ctx.reason, details: { status: 'completed', definition: 'shop', key: 'order-1042', tags: { region: 'eu' } } })

    const refusal = new RegExp(`^key "order-1042" belonged to saga ${saga.id}, deleted at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ by ana$`)
    await expect(engine.start('shop', {}, { key: 'order-1042' })).rejects.toSatisfy((e) => e instanceof ConflictError && refusal.test((e as Error).message))
    await expect(t.db.query(`SELECT start_saga('shop', '{}', 'order-1042')`)).rejects.toSatisfy((e) => sqlState(e) === 'SG004' && refusal.test((e as Error).message))
    // A plain insert with the key (any other start path) is refused by the trigger.
    await expect(insertSaga(t.db, { definition: 'shop', key: 'order-1042' })).rejects.toSatisfy((e) => sqlState(e) === 'SG004')
    expect(Number((await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM sagas WHERE idempotency_key = 'order-1042'`)).rows[0]!.n)).toBe(0)
    // Other keys and keyless starts are untouched.
    expect((await engine.start('shop', {}, { key: 'order-1043' })).created).toBe(true)
    expect(await auditSagaId(t.db, 'key:order-1042')).toBe(saga.id)
    // saga show|wait|… key:order-1042 says the saga was deleted, not that none was started.
    await expect(resolveSagaId(t.db, 'key:order-1042')).rejects.toSatisfy((e) => e instanceof NotFoundError && refusal.test((e as Error).message))
  })

  it('a saga without a key leaves no reservation', async () => {
    const { saga } = await insertSaga(t.db, { definition: 'shop', status: 'failed' })
    expect((await deleteSaga(t.db, saga.id, ctx)).key).toBeNull()
    expect((await t.db.query(`SELECT * FROM deleted_keys WHERE saga_id = $1`, [saga.id])).rows).toEqual([])
  })
})

describe.each(drivers)('audit list on %s', (kind) => {
  const t = useTestDatabase(kind)
  let sagaId: string

  beforeAll(async () => {
    const old = new Date(Date.now() - 3 * 3_600_000)
    sagaId = (await insertSaga(t.db, { status: 'suspended' })).saga.id
    await insertAudit(t.db, { action: 'def.apply', operator: 'ana', target: 'checkout', at: old })
    await insertAudit(t.db, { action: 'saga.retry', operator: 'ana', sagaId })
    await insertAudit(t.db, { action: 'saga.compensate', operator: 'bo', sagaId })
    await insertAudit(t.db, { action: 'intervention.resolve', operator: 'bo', sagaId, target: 'some-intervention' })
    await insertAudit(t.db, { action: 'participant.pause', operator: 'ana', target: 'payments' })
  })

  const actions = async (f: Parameters<typeof listAuditEntries>[1]) => (await listAuditEntries(t.db, f)).items.map((a) => a.action)

  it('filters by period, operator, action (full, family, verb) and saga, newest first', async () => {
    expect(await actions({ limit: 10 })).toEqual(['participant.pause', 'intervention.resolve', 'saga.compensate', 'saga.retry', 'def.apply'])
    expect(await actions({ limit: 10, since: new Date(Date.now() - 3_600_000) })).not.toContain('def.apply')
    expect(await actions({ limit: 10, operator: 'bo' })).toEqual(['intervention.resolve', 'saga.compensate'])
    expect(await actions({ limit: 10, action: 'saga' })).toEqual(['saga.compensate', 'saga.retry'])
    expect(await actions({ limit: 10, action: 'resolve' })).toEqual(['intervention.resolve'])
    expect(await actions({ limit: 10, action: 'saga.retry' })).toEqual(['saga.retry'])
    expect(await actions({ limit: 10, action: 'sag' })).toEqual([])
    expect(await actions({ limit: 10, sagaId, operator: 'ana' })).toEqual(['saga.retry'])
  })

  it('pages by audit id without repeating or skipping a row', async () => {
    const first = await listAuditEntries(t.db, { limit: 2 })
    expect(first.next).toBe(String(first.items[1]!.id))
    const second = await listAuditEntries(t.db, { limit: 2, after: Number(first.next) })
    const third = await listAuditEntries(t.db, { limit: 2, after: Number(second.next) })
    expect([...first.items, ...second.items, ...third.items].map((a) => a.action)).toEqual(await actions({ limit: 10 }))
    expect(third.next).toBeNull()
  })

  it('a full saga id is taken as given, so a deleted saga is still found; a prefix must name a saga that exists', async () => {
    expect(await auditSagaId(t.db, sagaId.toUpperCase())).toBe(sagaId)
    expect(await auditSagaId(t.db, sagaId.slice(0, 13))).toBe(sagaId)
    await expect(auditSagaId(t.db, 'key:nope')).rejects.toBeInstanceOf(NotFoundError)
  })
})

describe.each(drivers)('worker list on %s', (kind) => {
  const t = useTestDatabase(kind)

  beforeAll(async () => {
    const w = (id: string, heartbeatAgo: string, stoppedAgo: string | null) =>
      t.db.query(
        `INSERT INTO workers (id, host, pid, concurrency, started_at, heartbeat_at, stopped_at, sagactl_version)
         VALUES ($1, 'h1', 42, 8, now() - interval '2 hours', now() - $2::interval, now() - $3::interval, '1.0.0')`,
        [id, heartbeatAgo, stoppedAgo],
      )
    await w('live-1', '1 second', null)
    await w('silent-1', '5 minutes', null)
    await w('stopped-1', '10 minutes', '10 minutes')
    await w('stopped-long-ago', '3 days', '3 days')
    await w('silent-long-ago', '2 days', null)
    const lease = new Date(Date.now() + MIN)
    await insertSaga(t.db, { definition: 'checkout', status: 'running', currentStep: 'charge', leaseOwner: 'live-1', dueAt: lease })
    await insertSaga(t.db, { definition: 'checkout', status: 'compensating', currentStep: 'reserve', leaseOwner: 'live-1', dueAt: lease })
    await insertSaga(t.db, { definition: 'checkout', status: 'running', currentStep: 'ship', leaseOwner: 'silent-1', dueAt: new Date(Date.now() - MIN) })
    // A finished saga is not in flight, whoever held it last.
    await insertSaga(t.db, { definition: 'checkout', status: 'completed', leaseOwner: 'live-1' })
  })

  it('lists live workers first, then silent and recently stopped ones, each with the active sagas it holds', async () => {
    const workers = await listWorkers(t.db, { livenessMs: 30_000, recentMs: 3_600_000 })
    expect(workers.map((w) => [w.id, w.state, w.inFlight])).toEqual([
      ['live-1', 'live', 2],
      ['silent-1', 'silent', 1],
      ['stopped-1', 'stopped', 0],
    ])
    expect(workers[0]).toMatchObject({ host: 'h1', pid: 42, concurrency: 8, version: '1.0.0', stoppedAt: null })
    expect(workers[0]!.sagas.map((s) => [s.status, s.currentStep])).toEqual([
      ['running', 'charge'],
      ['compensating', 'reserve'],
    ])
    expect(workers[0]!.sagas[0]!.leaseUntil!.getTime()).toBeGreaterThan(Date.now())
    expect(workers[2]!.stoppedAt).toBeInstanceOf(Date)
    const wider = await listWorkers(t.db, { livenessMs: 30_000, recentMs: 4 * 86_400_000, perWorker: 1 })
    expect(wider.map((w) => w.id)).toEqual(['live-1', 'silent-1', 'silent-long-ago', 'stopped-1', 'stopped-long-ago'])
    expect(wider[0]).toMatchObject({ inFlight: 2, sagas: [expect.objectContaining({ currentStep: 'charge' })] })
  })
})

describe.each(drivers)('saga wait on %s', (kind) => {
  const t = useTestDatabase(kind)
  let engine: Engine

  beforeAll(async () => {
    engine = new Engine(t.db)
    await applyYaml(t.db, scriptedDefinition('wait-shop', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }]))
  })

  it('is woken by the notification of the settling transition, not only by its poll', async () => {
    const { saga } = await engine.start('wait-shop', {})
    // The poll would take a minute: only a notification can end this wait in time.
    const waiting = waitForSaga(t.db, t.db, saga.id, { pollMs: 60_000, timeoutMs: 50_000 })
    await new Promise((r) => setTimeout(r, 200))
    await t.db.transaction(async (tx) => {
      await tx.query(`UPDATE sagas SET status = 'completed', finished_at = now(), revision = revision + 1 WHERE id = $1`, [saga.id])
      await tx.query(`SELECT pg_notify($1, $2)`, [channelFor(t.db.schema), JSON.stringify({ count: 1, changes: [{ id: saga.id, status: 'completed' }] })])
    })
    expect(await waiting).toMatchObject({ timedOut: false, saga: { id: saga.id, status: 'completed' } })
  }, 60_000)

  it('returns at once for a settled saga, times out on one that is not, and names a saga that does not exist', async () => {
    const suspended = (await insertSaga(t.db, { definition: 'wait-shop', status: 'suspended' })).saga
    expect(await waitForSaga(t.db, t.db, suspended.id, { timeoutMs: 0 })).toMatchObject({ timedOut: false, saga: { status: 'suspended' } })
    const { saga } = await engine.start('wait-shop', {})
    expect(await waitForSaga(t.db, t.db, saga.id, { timeoutMs: 100, pollMs: 20 })).toMatchObject({ timedOut: true, saga: { status: 'pending' } })
    await expect(waitForSaga(t.db, t.db, '00000000-0000-7000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError)
  })

  it('waits for a saga another process runs, until it suspends', async () => {
    const { saga } = await engine.start('wait-shop', { script: { charge: { action: ['business'] } } })
    const [waited] = await Promise.all([waitForSaga(t.db, t.db, saga.id, { timeoutMs: 30_000 }), engine.run(saga.id, { defsDir: FIXTURE_STEPS })])
    expect(waited).toMatchObject({ timedOut: false, saga: { status: 'suspended', currentStep: 'charge' } })
  }, 60_000)
})
