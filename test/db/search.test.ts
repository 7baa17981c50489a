import { beforeAll, describe, expect, it } from 'vitest'
import { listSagas, pageQuery, resolveSagaId } from '../../src/db/queries/sagas.js'
import { SAGA_COLUMNS } from '../../src/db/rows.js'
import { Engine } from '../../src/engine/engine.js'
import { parseSearchText, parseWhere, tagsFromTexts } from '../../src/engine/search.js'
import { createMonitorData } from '../../src/ui/data.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml, scriptedDefinition } from '../helpers/engine.js'
import { insertSaga } from '../helpers/fixtures.js'

describe('search parsing', () => {
  it('reads tags and input conditions, and refuses malformed ones', () => {
    expect(tagsFromTexts(['region=eu', 'channel=web=x'])).toEqual({ region: 'eu', channel: 'web=x' })
    expect(() => tagsFromTexts(['region'])).toThrow(/expected key=value/)
    expect(() => tagsFromTexts(['a=1', 'a=2'])).toThrow(/given twice/)
    expect(() => tagsFromTexts(['a=\u001b[31m'])).toThrow(/control characters/)
    expect(parseWhere('input.customer.id=42')).toEqual({ path: ['customer', 'id'], value: 42 })
    expect(parseWhere('input.customer.id="42"')).toEqual({ path: ['customer', 'id'], value: '42' })
    expect(parseWhere('input.note=hello world')).toEqual({ path: ['note'], value: 'hello world' })
    expect(() => parseWhere('customer.id=42')).toThrow(/starts at input/)
    expect(() => parseWhere('input.a..b=1')).toThrow(/path part/)
  })

  it("splits the console's filter text into a search and free words", () => {
    expect(parseSearchText('key:order-1042 tag:region=eu input.customer.id=42 timeout')).toEqual({
      search: { key: 'order-1042', tags: { region: 'eu' }, where: [{ path: ['customer', 'id'], value: 42 }] },
      text: 'timeout',
    })
    expect(parseSearchText('tag:broken refund')).toEqual({ search: {}, text: 'tag:broken refund' })
  })
})

describe.each(drivers)('finding sagas by key, tags and input on %s', (kind) => {
  const t = useTestDatabase(kind)
  let engine: Engine
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    engine = new Engine(t.db)
    await applyYaml(t.db, scriptedDefinition('shop', [{ name: 'a' }]))
    const start = async (name: string, input: unknown, key: string | undefined, tags: Record<string, string>) =>
      (ids[name] = (await engine.start('shop', input, { key, tags })).saga.id)
    await start('eu42', { customer: { id: 42, name: 'Ana' }, total: 10 }, 'order-1042', { region: 'eu', channel: 'web' })
    await start('eu43', { customer: { id: '43' }, total: 10 }, 'order-1043', { region: 'eu', channel: 'phone' })
    await start('us42', { customer: { id: '42' } }, undefined, { region: 'us' })
  })

  const found = async (filter: Parameters<typeof listSagas>[1]) => (await listSagas(t.db, filter, { limit: 10 })).items.map((s) => s.id).sort()

  it('stores tags with the saga and keeps the first start for a repeated key', async () => {
    const again = await engine.start('shop', {}, { key: 'order-1042', tags: { region: 'xx' } })
    expect(again.created).toBe(false)
    expect(again.saga.tags).toEqual({ region: 'eu', channel: 'web' })
    await expect(engine.start('shop', {}, { tags: { 'bad key': 'x' } })).rejects.toThrow(/invalid tag key/)
  })

  it('--key, --tag (all must match) and --where select the same sagas in every combination', async () => {
    expect(await found({ key: 'order-1043' })).toEqual([ids.eu43])
    expect(await found({ tags: { region: 'eu' } })).toEqual([ids.eu42, ids.eu43].sort())
    expect(await found({ tags: { region: 'eu', channel: 'web' } })).toEqual([ids.eu42])
    // A bare number matches the number and its text; a quoted one the text only.
    expect(await found({ where: [parseWhere('input.customer.id=42')] })).toEqual([ids.eu42, ids.us42].sort())
    expect(await found({ where: [parseWhere('input.customer.id="42"')] })).toEqual([ids.us42])
    expect(await found({ where: [parseWhere('input.customer.id=42'), parseWhere('input.total=10')] })).toEqual([ids.eu42])
    expect(await found({ where: [parseWhere('input.customer.name=Ana')], tags: { region: 'eu' }, status: ['pending', 'running'] })).toEqual([ids.eu42])
    expect(await found({ tags: { region: 'nowhere' } })).toEqual([])
  })

  it('key:<start key> is accepted wherever an id is', async () => {
    expect(await resolveSagaId(t.db, 'key:order-1042')).toBe(ids.eu42)
    expect((await engine.get(await resolveSagaId(t.db, ids.eu43!.slice(0, 13)))).id).toBe(ids.eu43)
    await expect(resolveSagaId(t.db, 'key:order-9999')).rejects.toMatchObject({ code: 'not_found' })
    await expect(resolveSagaId(t.db, 'key:')).rejects.toMatchObject({ code: 'usage' })
  })

  it("the console's filter text searches the same way", async () => {
    const data = createMonitorData(t.db, { displayUrl: 'test', schema: t.db.schema })
    const live = async (text: string) => (await data.liveSagas({ text, limit: 10 })).map((s) => s.id).sort()
    expect(await live('key:order-1042')).toEqual([ids.eu42])
    expect(await live('tag:region=eu tag:channel=phone')).toEqual([ids.eu43])
    expect(await live('input.customer.id=42 shop')).toEqual([ids.eu42, ids.us42].sort())
  })

  it('--where and --tag are served by the GIN indexes, not a scan', async () => {
    // Enough rows that a scan costs more than the index; ANALYZE so the planner knows.
    await t.db.query(
      `INSERT INTO sagas (id, definition, version, status, input, tags, created_at, updated_at)
       SELECT gen_random_uuid(), 'bulk', 1, 'completed', jsonb_build_object('customer', jsonb_build_object('id', i)),
              jsonb_build_object('order', 'o-' || i), now(), now()
       FROM generate_series(1, 5000) AS i`,
    )
    await insertSaga(t.db, { status: 'suspended', input: { customer: { id: 'needle' } }, tags: { order: 'needle' } })
    await t.db.query('ANALYZE sagas')
    const plan = async (filter: Parameters<typeof listSagas>[1]) => {
      const q = pageQuery(SAGA_COLUMNS, filter, { limit: 50 })!
      return (await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.sql}`, q.values)).rows.map((r) => r['QUERY PLAN']).join('\n')
    }
    expect(await plan({ where: [parseWhere('input.customer.id=4321')] })).toMatch(/sagas_input/)
    expect(await plan({ tags: { order: 'o-77' } })).toMatch(/sagas_tags/)
    expect(await plan({ tags: { order: 'o-78' }, status: ['completed', 'failed'] })).toMatch(/sagas_tags/)
    expect(await found({ where: [parseWhere('input.customer.id=4321')] })).toHaveLength(1)
  })
})
