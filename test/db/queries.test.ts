import { beforeAll, describe, expect, it } from 'vitest'
import {
  getIntervention,
  listInterventions,
  openInterventionForSaga,
  resolveInterventionId,
} from '../../src/db/queries/interventions.js'
import {
  countSagas,
  getEvents,
  getLastEvents,
  getSaga,
  getSteps,
  getSuspensions,
  listSagaIds,
  listSagas,
  parseIdPrefix,
  resolveSagaId,
  uuidV7Floor,
  type SagaFilter,
} from '../../src/db/queries/sagas.js'
import type { Queryable } from '../../src/db/types.js'
import { NotFoundError, UsageError } from '../../src/errors.js'
import { insertIntervention, insertSaga } from '../helpers/fixtures.js'
import { drivers, pgUrl, useTestDatabase } from '../helpers/db.js'

const MIN = 60_000
const now = Date.now()
const ago = (ms: number) => new Date(now - ms)

async function allPages(q: Queryable, filter: SagaFilter, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = []
  let after: string | undefined
  let pages = 0
  for (;;) {
    const page = await listSagas(q, filter, { limit, after })
    pages++
    ids.push(...page.items.map((s) => s.id))
    if (!page.next) return { ids, pages }
    expect(page.items).toHaveLength(limit)
    after = page.next
  }
}

describe('id helpers', () => {
  it('builds the smallest UUIDv7 of a millisecond', () => {
    expect(uuidV7Floor(new Date(0x0193_4567_89ab))).toBe('01934567-89ab-0000-0000-000000000000')
  })

  it('parses ids and prefixes', () => {
    expect(parseIdPrefix('0193ABCD')).toEqual({ lower: '0193abcd-0000-0000-0000-000000000000', upper: '0193abcd-ffff-ffff-ffff-ffffffffffff' })
    expect(parseIdPrefix('0193abcd-12')).toEqual({ lower: '0193abcd-1200-0000-0000-000000000000', upper: '0193abcd-12ff-ffff-ffff-ffffffffffff' })
    expect(parseIdPrefix('0193abcd12')).toEqual(parseIdPrefix('0193abcd-12'))
    expect(parseIdPrefix('0193abcd12ef7000800000000000000a')).toEqual({ exact: '0193abcd-12ef-7000-8000-00000000000a' })
    for (const bad of ['abc', 'xyz1', '0193-abcd', '0193abcd-12ef-7000-8000-00000000000a0', '']) expect(parseIdPrefix(bad)).toBeNull()
  })
})

describe.each(drivers)('saga queries on %s', (kind) => {
  const t = useTestDatabase(kind)
  const s: Record<string, string> = {}

  beforeAll(async () => {
    const seed = async (name: string, minutesAgo: number, fields: Parameters<typeof insertSaga>[1]) => {
      s[name] = (await insertSaga(t.db, { createdAt: ago(minutesAgo * MIN), ...fields })).saga.id
    }
    await seed('old', 3 * 24 * 60, { definition: 'refund', version: 2, status: 'completed' })
    await seed('stuckRunning', 90, { status: 'running', updatedAt: ago(60 * MIN), lastError: 'connect ECONNREFUSED 127.0.0.1:7002' })
    await seed('freshRunning', 80, { status: 'running', updatedAt: ago(1000) })
    await seed('stuckComp', 70, { status: 'compensating', updatedAt: ago(20 * MIN), lastError: 'HTTP 503 from payment' })
    await seed('latePending', 60, { status: 'pending', dueAt: ago(30 * MIN) })
    await seed('duePending', 50, { status: 'pending', dueAt: ago(1000) })
    await seed('percent', 40, { status: 'failed', reason: 'aborted: 100% sure' })
    await seed('noPercent', 30, { status: 'failed', reason: 'aborted: 1000 sure' })
    await seed('underscore', 20, { status: 'compensated', lastError: 'bad foo_bar' })
    await seed('noUnderscore', 10, { status: 'compensated', lastError: 'bad fooXbar' })
    await seed('suspended', 5, { status: 'suspended', version: 2, reason: 'compensation exhausted' })
  })

  const ids = async (filter: SagaFilter) => (await listSagas(t.db, filter, { limit: 100 })).items.map((x) => x.id)
  const names = (...n: string[]) => n.map((k) => s[k])

  it('lists newest first with every field of a saga', async () => {
    const page = await listSagas(t.db, {}, { limit: 100 })
    expect(page.next).toBeNull()
    expect(page.items.map((x) => x.id)).toEqual(Object.values(s).reverse())
    expect(page.items.at(-1)).toMatchObject({ definition: 'refund', version: 2, status: 'completed', currentStep: null })
    expect(page.items.at(-1)!.createdAt).toBeInstanceOf(Date)
  })

  it('filters by status, one or several', async () => {
    expect(await ids({ status: ['failed'] })).toEqual(names('noPercent', 'percent'))
    expect(await ids({ status: ['pending', 'suspended', 'completed'] })).toEqual(names('suspended', 'duePending', 'latePending', 'old'))
  })

  it('filters by definition and version', async () => {
    expect(await ids({ definition: 'refund' })).toEqual(names('old'))
    expect(await ids({ definition: 'order-checkout', version: 2 })).toEqual(names('suspended'))
    expect(await ids({ definition: 'nope' })).toEqual([])
  })

  it('--since bounds the id by creation time', async () => {
    expect(await ids({ since: ago(35 * MIN) })).toEqual(names('suspended', 'noUnderscore', 'underscore', 'noPercent'))
    expect(await ids({ since: ago(24 * 60 * MIN) })).not.toContain(s.old)
  })

  it('--stuck: active without updates, or pending past due, for the threshold', async () => {
    expect(await ids({ stuckAfterMs: 10 * MIN })).toEqual(names('latePending', 'stuckComp', 'stuckRunning'))
    expect(await ids({ stuckAfterMs: 45 * MIN })).toEqual(names('stuckRunning'))
    expect(await ids({ stuckAfterMs: 10 * MIN, status: ['running', 'completed'] })).toEqual(names('stuckRunning'))
  })

  it('--failing: running or compensating with a last error', async () => {
    expect(await ids({ failing: true })).toEqual(names('stuckComp', 'stuckRunning'))
    expect(await ids({ failing: true, status: ['completed'] })).toEqual([])
  })

  it('--error matches last error or reason, case-insensitive, % and _ literal', async () => {
    expect(await ids({ error: 'econnrefused' })).toEqual(names('stuckRunning'))
    expect(await ids({ error: 'EXHAUSTED' })).toEqual(names('suspended'))
    expect(await ids({ error: '100%' })).toEqual(names('percent'))
    expect(await ids({ error: 'foo_bar' })).toEqual(names('underscore'))
    expect(await ids({ error: 'bad', status: ['compensated'], since: ago(15 * MIN) })).toEqual(names('noUnderscore'))
  })

  it('counts and lists ids with the same filters', async () => {
    expect(await countSagas(t.db, {})).toBe(11)
    expect(await countSagas(t.db, { status: ['failed', 'compensated'] })).toBe(4)
    expect(await countSagas(t.db, { stuckAfterMs: 10 * MIN })).toBe(3)
    expect(await countSagas(t.db, { failing: true, status: ['pending'] })).toBe(0)
    const page = await listSagaIds(t.db, { status: ['failed', 'compensated'] }, { limit: 3 })
    expect(page).toEqual({ items: names('noUnderscore', 'underscore', 'noPercent'), next: s.noPercent })
    expect(await listSagaIds(t.db, { status: ['failed', 'compensated'] }, { limit: 3, after: page.next! })).toEqual({ items: names('percent'), next: null })
  })

  it('rejects a malformed cursor or limit', async () => {
    await expect(listSagas(t.db, {}, { limit: 10, after: 'nope' })).rejects.toBeInstanceOf(UsageError)
    await expect(listSagas(t.db, {}, { limit: 0 })).rejects.toBeInstanceOf(UsageError)
  })

  it('reads one saga, its steps in order, its events', async () => {
    const f = await insertSaga(t.db, {
      definition: 'detail',
      status: 'compensating',
      steps: [{ index: 1, name: 'b' }, { index: 0, name: 'a' }, { index: 1, name: 'b', phase: 'compensation', status: 'running' }],
      events: [{ type: 'saga.created' }, { type: 'saga.started' }, { type: 'step.started', step: 'a', phase: 'action', attempt: 1, data: { n: 1 } }],
    })
    const id = f.saga.id
    expect(await getSaga(t.db, id)).toEqual(f.saga)
    expect(await getSaga(t.db, '00000000-0000-7000-8000-000000000000')).toBeNull()
    expect((await getSteps(t.db, id)).map((x) => `${x.index}/${x.phase}`)).toEqual(['0/action', '1/action', '1/compensation'])
    const events = await getEvents(t.db, id)
    expect(events).toEqual(f.events)
    expect(await getEvents(t.db, id, { afterId: events[0]!.id, limit: 1 })).toEqual([events[1]])
    expect(await getLastEvents(t.db, id, 2)).toEqual(events.slice(1))
  })

  it('suspensions: from each saga.suspended to the event that moved the saga on, open while it is still suspended', async () => {
    const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 10, min))
    const { saga } = await insertSaga(t.db, {
      status: 'suspended',
      events: [
        { type: 'saga.compensating', at: at(0) },
        { type: 'saga.suspended', at: at(1) },
        { type: 'intervention.opened', at: at(1) },
        { type: 'saga.resumed', at: at(31) },
        { type: 'step.failed', at: at(32) },
        { type: 'saga.suspended', at: at(40) },
      ],
    })
    expect(await getSuspensions(t.db, saga.id)).toEqual([
      { from: at(1), to: at(31) },
      { from: at(40), to: null },
    ])
  })
})

describe.each(drivers)('pages and prefixes on %s', (kind) => {
  const t = useTestDatabase(kind)
  const created: string[] = []

  beforeAll(async () => {
    // Many sagas in few milliseconds: the id, not the clock, must order the pages.
    for (let i = 0; i < 40; i++) {
      const f = await insertSaga(t.db, { definition: 'paging', status: i % 3 === 0 ? 'failed' : i % 3 === 1 ? 'completed' : 'running' })
      created.push(f.saga.id)
    }
  })

  it('keyset pages have no overlap and no gaps', async () => {
    const newestFirst = [...created].sort().reverse()
    const all = await allPages(t.db, { definition: 'paging' }, 7)
    expect(all).toEqual({ ids: newestFirst, pages: 6 })
    const two = await allPages(t.db, { status: ['failed', 'completed'] }, 5)
    expect(two.ids).toEqual(newestFirst.filter((id) => created.indexOf(id) % 3 !== 2))
    const exact = await allPages(t.db, { status: ['running'] }, 13)
    expect(exact).toMatchObject({ pages: 1 })
    expect(exact.ids).toHaveLength(13)
  })

  it('resolves a full id, a unique prefix, and refuses none, several, malformed', async () => {
    const [a, b] = [
      (await insertSaga(t.db, { id: '0190aaaa-bbbb-7ccc-8ddd-000000000001' })).saga.id,
      (await insertSaga(t.db, { id: '0190aaaa-bbbb-7ccc-8ddd-000000000102' })).saga.id,
    ]
    expect(await resolveSagaId(t.db, a)).toBe(a)
    expect(await resolveSagaId(t.db, a.replace(/-/g, '').toUpperCase())).toBe(a)
    expect(await resolveSagaId(t.db, '0190aaaa-bbbb-7ccc-8ddd-00000000000')).toBe(a)
    expect(await resolveSagaId(t.db, created[5]!.slice(0, 30))).toBe(created[5])

    const ambiguous = resolveSagaId(t.db, '0190aaaa')
    await expect(ambiguous).rejects.toBeInstanceOf(UsageError)
    await expect(ambiguous).rejects.toThrow(`ambiguous saga id "0190aaaa": matches ${a}, ${b}`)
    await expect(resolveSagaId(t.db, '0190ab')).rejects.toThrow(new NotFoundError('no saga matches "0190ab"'))
    await expect(resolveSagaId(t.db, '0190aaaa-bbbb-7ccc-8ddd-000000000003')).rejects.toBeInstanceOf(NotFoundError)
    for (const bad of ['abc', 'not-an-id', '0190-aaaa']) {
      await expect(resolveSagaId(t.db, bad)).rejects.toThrow(/invalid saga id/)
    }
  })

  it('lists at most 5 candidates of an ambiguous prefix', async () => {
    const prefix = created[0]!.slice(0, 4)
    const err = await resolveSagaId(t.db, prefix).catch((e: Error) => e)
    expect(err).toBeInstanceOf(UsageError)
    expect((err as Error).message.match(/[0-9a-f]{8}-/g)).toHaveLength(5)
    expect((err as Error).message).toMatch(/, …$/)
  })
})

describe.each(drivers)('intervention queries on %s', (kind) => {
  const t = useTestDatabase(kind)
  const open: string[] = []
  let resolved = ''
  let checkoutSaga = ''

  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      const f = await insertSaga(t.db, {
        definition: i % 2 ? 'refund' : 'order-checkout',
        status: 'suspended',
        currentStep: 'process-payment',
        intervention: { createdAt: ago((10 - i) * MIN), reason: `exhausted ${i}`, step: 'process-payment', phase: 'compensation' },
      })
      open.push(f.intervention!.id)
      if (i === 0) checkoutSaga = f.saga.id
    }
    const done = await insertSaga(t.db, { status: 'completed' })
    resolved = (await insertIntervention(t.db, done.saga.id, { status: 'resolved', action: 'retry', note: 'fixed', createdAt: ago(20 * MIN) })).id
  })

  it('lists the open queue newest first, with the saga joined', async () => {
    const page = await listInterventions(t.db, { limit: 10 })
    expect(page.items.map((i) => i.id)).toEqual([...open].reverse())
    expect(page.next).toBeNull()
    expect(page.items[4]).toMatchObject({ sagaId: checkoutSaga, definition: 'order-checkout', version: 1, sagaStatus: 'suspended', currentStep: 'process-payment', reason: 'exhausted 0' })
  })

  it('filters by status and definition; pages continue without gaps', async () => {
    expect((await listInterventions(t.db, { status: 'resolved', limit: 10 })).items.map((i) => i.id)).toEqual([resolved])
    expect((await listInterventions(t.db, { status: 'all', limit: 10 })).items).toHaveLength(6)
    expect((await listInterventions(t.db, { definition: 'refund', limit: 10 })).items.map((i) => i.id)).toEqual([open[3], open[1]])
    const first = await listInterventions(t.db, { status: 'all', limit: 4 })
    const second = await listInterventions(t.db, { status: 'all', limit: 4, after: first.next! })
    expect([...first.items, ...second.items].map((i) => i.id)).toEqual([...[...open].reverse(), resolved])
    expect(second.next).toBeNull()
    await expect(listInterventions(t.db, { limit: 4, after: '00000000-0000-7000-8000-000000000000' })).rejects.toBeInstanceOf(UsageError)
  })

  it('gets one by id or prefix, and the open one of a saga', async () => {
    expect(await resolveInterventionId(t.db, resolved)).toBe(resolved)
    expect(await resolveInterventionId(t.db, resolved.slice(0, 34))).toBe(resolved)
    await expect(resolveInterventionId(t.db, 'ffff')).rejects.toThrow('no intervention matches "ffff"')
    expect(await getIntervention(t.db, resolved)).toMatchObject({ status: 'resolved', action: 'retry', note: 'fixed', resolvedBy: 'tester', sagaStatus: 'completed' })
    expect((await openInterventionForSaga(t.db, checkoutSaga))?.id).toBe(open[0])
    expect(await getIntervention(t.db, '00000000-0000-7000-8000-000000000000')).toBeNull()
  })
})


interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  Plans?: PlanNode[]
}

/** Runs each query as EXPLAIN with its parameters (a custom plan, as the real call gets) and keeps the plan. */
function explaining(q: Queryable, plans: PlanNode[]): Queryable {
  return {
    query: async <R>(sql: string, params?: unknown[]) => {
      const res = await q.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${sql}`, params)
      plans.push(res.rows[0]!['QUERY PLAN'][0]!.Plan)
      return { rows: [] as R[], rowCount: 0 }
    },
  }
}

function sagaScans(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  if (node['Relation Name'] === 'sagas' || node['Node Type'] === 'Bitmap Index Scan') out.push(node)
  for (const child of node.Plans ?? []) sagaScans(child, out)
  return out
}

describe.runIf(pgUrl)('index use on 20k sagas (pg, EXPLAIN after ANALYZE)', () => {
  const t = useTestDatabase('pg')

  beforeAll(async () => {
    // One saga a second over the last 5.5 hours; most completed, a few in every other state.
    await t.db.exec(`
      INSERT INTO sagas (id, definition, version, status, input, created_at, updated_at, due_at, last_error)
      SELECT (lpad(to_hex(ms), 12, '0') || '7000' || substr(md5(g::text), 1, 16))::uuid,
             CASE WHEN g % 1000 = 7 THEN 'rare-def' WHEN g % 2 = 0 THEN 'order-checkout' ELSE 'refund' END, 1 + g % 2, st,
             '{}', to_timestamp(ms / 1000.0), to_timestamp(ms / 1000.0),
             CASE WHEN st IN ('pending', 'running', 'compensating') THEN to_timestamp(ms / 1000.0) END,
             CASE WHEN g % 7 = 0 AND st IN ('running', 'compensating') THEN 'boom ' || g END
        FROM generate_series(1, 20000) g,
             LATERAL (SELECT (extract(epoch FROM now()) * 1000)::bigint - (20000 - g) * 1000 AS ms) m,
             LATERAL (SELECT CASE WHEN g % 1000 = 0 THEN 'running' WHEN g % 1000 = 1 THEN 'compensating' WHEN g % 1000 = 2 THEN 'pending'
                                  WHEN g % 1000 = 3 THEN 'suspended' WHEN g % 100 = 4 THEN 'failed' WHEN g % 20 = 5 THEN 'compensated'
                                  ELSE 'completed' END AS st) s;
      ANALYZE sagas;`)
  })

  const cases: Array<[string, SagaFilter, string[]]> = [
    ['no filter', {}, ['sagas_pkey']],
    ['one rare status', { status: ['suspended'] }, ['sagas_status_id']],
    ['active statuses', { status: ['running', 'compensating'] }, []],
    ['common and rare status', { status: ['completed', 'failed'] }, []],
    ['rare definition', { definition: 'rare-def' }, ['sagas_definition_id']],
    ['definition and version', { definition: 'rare-def', version: 1 }, ['sagas_definition_id']],
    ['since', { since: new Date(Date.now() - 10 * MIN) }, ['sagas_pkey']],
    ['stuck', { stuckAfterMs: 10 * MIN }, []],
    ['failing', { failing: true }, []],
    ['error text with a status', { error: 'boom', status: ['running'] }, []],
  ]

  it.each(cases)('list, %s: index scans only', async (_name, filter, indexes) => {
    const plans: PlanNode[] = []
    await listSagas(explaining(t.db, plans), filter, { limit: 50 })
    // A cursor in the middle of the data: the second page of a long listing.
    await listSagas(explaining(t.db, plans), filter, { limit: 50, after: uuidV7Floor(new Date(Date.now() - 3 * 60 * MIN)) })
    for (const plan of plans) {
      expect(plan['Node Type']).toBe('Limit')
      const scans = sagaScans(plan)
      expect(scans.length, JSON.stringify(plan)).toBeGreaterThan(0)
      for (const scan of scans) expect(['Index Scan', 'Index Only Scan', 'Bitmap Heap Scan', 'Bitmap Index Scan'], JSON.stringify(plan)).toContain(scan['Node Type'])
      for (const index of indexes) expect(scans.map((n) => n['Index Name'])).toContain(index)
    }
  })

  it('counts by status through the index', async () => {
    const plans: PlanNode[] = []
    await countSagas(explaining(t.db, plans), { status: ['failed', 'suspended'] })
    const scans = sagaScans(plans[0]!)
    expect(scans.every((n) => n['Node Type'] !== 'Seq Scan')).toBe(true)
    expect(scans.map((n) => n['Index Name'])).toContain('sagas_status_id')
  })

  it('resolves a prefix with a range scan on the primary key', async () => {
    const plans: PlanNode[] = []
    await resolveSagaId(explaining(t.db, plans), '0190aaaa').catch(() => undefined)
    expect(sagaScans(plans[0]!).map((n) => n['Index Name'])).toContain('sagas_pkey')
  })
})
