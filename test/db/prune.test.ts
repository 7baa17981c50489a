import { describe, expect, it } from 'vitest'
import { pruneFinished } from '../../src/db/prune.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { insertSaga } from '../helpers/fixtures.js'

describe.each(drivers)('db prune on %s', (kind) => {
  const t = useTestDatabase(kind)

  it('deletes old finished sagas with their rows, in batches, and nothing else', async () => {
    const old = new Date(Date.now() - 40 * 86_400_000)
    const gone: string[] = []
    for (let i = 0; i < 5; i++) gone.push((await insertSaga(t.db, { status: 'completed', createdAt: old, finishedAt: old, steps: [{}], events: [{}] })).saga.id)
    const kept = [
      (await insertSaga(t.db, { status: 'completed', finishedAt: new Date() })).saga.id,
      (await insertSaga(t.db, { status: 'suspended', createdAt: old })).saga.id,
      (await insertSaga(t.db, { status: 'running', createdAt: old })).saga.id,
    ]
    const cutoff = new Date(Date.now() - 30 * 86_400_000)
    expect(await pruneFinished(t.db, cutoff, { dryRun: true })).toBe(5)
    expect(await pruneFinished(t.db, cutoff, { batch: 2 })).toBe(5)
    const left = await t.db.query<{ id: string }>(`SELECT id FROM sagas`)
    expect(left.rows.map((r) => r.id).sort()).toEqual(expect.arrayContaining(kept))
    expect(left.rows.some((r) => gone.includes(r.id))).toBe(false)
    const orphans = await t.db.query<{ n: number }>(`SELECT (SELECT count(*) FROM steps WHERE saga_id = ANY($1::uuid[])) + (SELECT count(*) FROM events WHERE saga_id = ANY($1::uuid[]))::int AS n`, [gone])
    expect(Number(orphans.rows[0]!.n)).toBe(0)
  })
})
