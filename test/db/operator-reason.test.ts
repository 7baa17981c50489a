import { describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { UsageError } from '../../src/errors.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { insertSaga } from '../helpers/fixtures.js'

describe.each(drivers)('operator actions need a reason that says something (%s)', (kind) => {
  const t = useTestDatabase(kind)

  it('a blank reason, note or operator is refused before anything is written or audited, from any caller', async () => {
    const { saga } = await insertSaga(t.db, { status: 'suspended' })
    const engine = new Engine(t.db)
    await expect(engine.abort(saga.id, { operator: 'alice', reason: '  ' })).rejects.toBeInstanceOf(UsageError)
    await expect(engine.abort(saga.id, { operator: ' ', reason: 'dup' })).rejects.toBeInstanceOf(UsageError)
    await expect(engine.compensate(saga.id, { operator: 'alice', reason: '' })).rejects.toBeInstanceOf(UsageError)
    await expect(engine.fork(saga.id, { operator: 'alice', reason: ' ' })).rejects.toBeInstanceOf(UsageError)
    await expect(engine.migrate(saga.id, { operator: 'alice', reason: '', toVersion: 'latest' })).rejects.toBeInstanceOf(UsageError)
    const audit = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log')
    expect(audit.rows[0]!.n).toBe(0)
    expect((await t.db.query<{ status: string }>('SELECT status FROM sagas WHERE id = $1', [saga.id])).rows[0]!.status).toBe('suspended')
    expect((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sagas')).rows[0]!.n).toBe(1)
  })
})
