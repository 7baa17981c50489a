import { beforeAll, describe, expect, it, vi } from 'vitest'
import { SagaStore } from '../../src/db/saga-store.js'
import { Engine } from '../../src/engine/engine.js'
import { ConflictError, NotFoundError } from '../../src/errors.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml, scriptedDefinition } from '../helpers/engine.js'

describe.each(drivers)('starts asked for at once are written together, on %s', (kind) => {
  const t = useTestDatabase(kind)
  let engine: Engine

  beforeAll(async () => {
    engine = new Engine(t.db)
    await applyYaml(t.db, scriptedDefinition('one', [{ name: 'a' }], 'timeout: 10m'))
    await applyYaml(t.db, scriptedDefinition('other', [{ name: 'a' }]))
  })

  it('each start gets its own saga, its event and its deadline; one key gives one saga; a bad start fails alone', async () => {
    const calls: number[] = []
    const insertMany = SagaStore.prototype.insertMany
    const spy = vi.spyOn(SagaStore.prototype, 'insertMany').mockImplementation(function (this: SagaStore, starts) {
      calls.push(starts.length)
      return insertMany.call(this, starts)
    })
    await engine.start('other', {}, { key: 'theirs' })
    const asked = [
      ...Array.from({ length: 30 }, (_, i) => () => engine.start('one', { n: i }, { tags: { n: String(i) } })),
      ...Array.from({ length: 5 }, () => () => engine.start('one', { keyed: true }, { key: 'same' })),
      () => engine.start('missing', {}),
      () => engine.start('one', {}, { version: 7 }),
      () => engine.start('one', {}, { key: 'theirs' }),
    ]
    const results = await Promise.allSettled(asked.map((f) => f()))
    spy.mockRestore()
    // Fewer statements than starts: they were batched.
    expect(calls.length).toBeLessThan(asked.length)

    const ok = results.slice(0, 30).map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<Engine['start']>>>).value)
    expect(ok.every((r) => r.created && r.saga.status === 'pending' && r.saga.definition === 'one')).toBe(true)
    expect(new Set(ok.map((r) => r.saga.id)).size).toBe(30)
    expect(ok.map((r) => (r.saga.input as { n: number }).n)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(ok.every((r, i) => r.saga.tags.n === String(i))).toBe(true)
    for (const r of ok) {
      const late = r.saga.deadlineAt!.getTime() - r.saga.createdAt.getTime()
      expect(late).toBeGreaterThan(9 * 60_000)
      expect(late).toBeLessThanOrEqual(10 * 60_000)
    }

    const keyed = results.slice(30, 35).map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<Engine['start']>>>).value)
    expect(new Set(keyed.map((r) => r.saga.id)).size).toBe(1)
    expect(keyed.filter((r) => r.created)).toHaveLength(1)

    const [missing, noVersion, conflict] = results.slice(35).map((r) => (r as PromiseRejectedResult).reason)
    expect(missing).toBeInstanceOf(NotFoundError)
    expect(missing.message).toBe('definition "missing" not found')
    expect(noVersion).toBeInstanceOf(NotFoundError)
    expect(noVersion.message).toBe('definition "one" has no version 7 (latest is 1)')
    expect(conflict).toBeInstanceOf(ConflictError)

    const events = await t.db.query<{ n: number; sagas: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT saga_id)::int AS sagas FROM events WHERE type = 'saga.created' AND saga_id = ANY($1::uuid[])`,
      [[...ok, keyed[0]!].map((r) => r.saga.id)],
    )
    expect(events.rows[0]).toEqual({ n: 31, sagas: 31 })
    const all = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas`)
    expect(all.rows[0]!.n).toBe(32)
  })
})
