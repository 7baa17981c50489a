import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { pgUrl, useCliSchema } from '../helpers/db.js'
import { insertSaga } from '../helpers/fixtures.js'

const DAY = 86_400_000

describe.runIf(pgUrl)('operators: slips are refused, failures are visible', () => {
  const t = useCliSchema()
  const cli = (...a: string[]) => runCli([...a, ...t.args])
  const count = async () => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas`)).rows[0]!.n

  it('db prune: a bare number, or less than an hour, deletes nothing', async () => {
    await insertSaga(t.db, { status: 'completed', createdAt: new Date(Date.now() - 3 * DAY), updatedAt: new Date(Date.now() - 2 * DAY) })
    const bare = await cli('db', 'prune', '--older-than', '30', '--yes')
    expect(bare.code).toBe(2)
    expect(bare.stderr).toContain('needs a unit')
    for (const age of ['0s', '30m']) {
      const short = await cli('db', 'prune', '--older-than', age, '--yes')
      expect(short.code, age).toBe(2)
      expect(short.stderr).toContain('--force')
    }
    expect(await count()).toBe(1)
  })

  it('db prune: counts, asks, refuses without a terminal, and --dry-run deletes nothing', async () => {
    await t.db.exec('TRUNCATE sagas, steps, events, interventions')
    for (let i = 0; i < 3; i++) await insertSaga(t.db, { status: 'compensated', createdAt: new Date(Date.now() - 40 * DAY), updatedAt: new Date(Date.now() - 35 * DAY) })
    await insertSaga(t.db, { status: 'completed' })
    const refused = await cli('db', 'prune', '--older-than', '30d')
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('3 finished saga(s) older than 30d (finished before ')
    expect(refused.stderr).toContain('without --yes')
    const dry = await cli('db', 'prune', '--older-than', '30d', '--dry-run', '--json')
    expect(dry.code, dry.stderr).toBe(0)
    expect(JSON.parse(dry.stdout)).toMatchObject({ matched: 3, deleted: 0, dryRun: true })
    expect(await count()).toBe(4)
    const done = await cli('db', 'prune', '--older-than', '30d', '--yes', '--json')
    expect(JSON.parse(done.stdout)).toMatchObject({ matched: 3, deleted: 3 })
    expect(await count()).toBe(1)
    const forced = await cli('db', 'prune', '--older-than', '0s', '--force', '--yes', '--json')
    expect(JSON.parse(forced.stdout)).toMatchObject({ deleted: 1 })
  })

  it('an absurd period is a usage error, not a crash', async () => {
    const res = await cli('saga', 'list', '--since', '99999999999999999999d')
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('too long')
    expect((await cli('stats', '--since', '30')).code).toBe(2)
  })

  it('compensate --batch: a pass with errors exits 10, not 0', async () => {
    // Past its deadline, but its definition is not registered: the pass cannot time it out.
    await insertSaga(t.db, { definition: 'never-applied', status: 'running', deadlineAt: new Date(Date.now() - 60_000) })
    const res = await cli('compensate', '--batch', '--json')
    expect(res.code, res.stderr).toBe(10)
    expect(JSON.parse(res.stdout)).toMatchObject({ errors: 1 })
    expect(res.stderr).toContain('pass error')
  })
})
