import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/migrator.js'
import { openDatabase } from '../../src/db/open.js'
import type { Database } from '../../src/db/types.js'
import { Engine } from '../../src/engine/engine.js'
import { runCli, type CliResult } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, scriptedDefinition } from '../helpers/engine.js'

const SAGA_FIELDS = ['id', 'definition', 'version', 'status', 'currentStep', 'createdAt', 'updatedAt', 'tags', 'forkedFrom']

describe.runIf(pgUrl)('finding and repairing sagas from the command line', () => {
  let db: Database
  let engine: Engine
  let args: string[]
  let drop: () => Promise<void>
  const cli = (...a: string[]) => runCli([...a, ...args])
  const json = (r: CliResult) => JSON.parse(r.stdout)

  beforeAll(async () => {
    const s = await freshPgSchema()
    drop = s.drop
    args = ['--database-url', s.url, '--schema', s.schema]
    db = await openDatabase({ url: s.url, schema: s.schema })
    await migrate(db)
    engine = new Engine(db)
    await applyYaml(db, scriptedDefinition('shop', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }, { name: 'ship' }]))
  })

  afterAll(async () => {
    await db?.close()
    await drop?.()
  })

  it('start --tag, list --key/--tag/--where, show key:, and the bulk form by tag', async () => {
    const started = await cli('saga', 'start', 'shop', '--input', '{"customer":{"id":42}}', '--key', 'order-1042', '--tag', 'region=eu', '--tag', 'channel=web', '--json')
    expect(started.code, started.stderr).toBe(0)
    const saga = json(started)
    expect(Object.keys(saga)).toEqual(expect.arrayContaining(SAGA_FIELDS))
    expect(saga).toMatchObject({ tags: { region: 'eu', channel: 'web' }, forkedFrom: null, key: 'order-1042' })
    await engine.start('shop', { customer: { id: 7 } }, { tags: { region: 'us' } })

    const [byWhere, byTags, byKey, shown, dry, badTag] = await Promise.all([
      cli('saga', 'list', '--where', 'input.customer.id=42', '--json'),
      cli('saga', 'list', '--tag', 'region=eu', '--tag', 'channel=web', '--json'),
      cli('saga', 'list', '--key', 'order-1042', '--json'),
      cli('saga', 'show', 'key:order-1042'),
      cli('saga', 'abort', '--tag', 'region=eu', '--reason', 'test', '--dry-run', '--json'),
      cli('saga', 'list', '--tag', 'region'),
    ])
    for (const r of [byWhere, byTags, byKey]) {
      expect(r.code, r.stderr).toBe(0)
      expect(json(r)).toMatchObject({ items: [{ id: saga.id }], next: null })
    }
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toMatch(/tags\s+region=eu channel=web/)
    expect(dry.code, dry.stderr).toBe(0)
    expect(json(dry)).toMatchObject({ dryRun: true, matched: 1, refused: 0, items: [{ id: saga.id }] })
    expect([badTag.code, badTag.stderr.trim()]).toEqual([2, 'error: invalid tag "region": expected key=value, e.g. region=eu'])
    const missing = await cli('saga', 'show', 'key:order-9999')
    expect([missing.code, missing.stderr.trim()]).toEqual([3, 'error: no saga was started with key "order-9999"'])
  })

  it('retry --from-step: the dry-run plan, a refusal with exit 4, then the rerun; skip --output from a file', async () => {
    const { saga } = await engine.start('shop', { script: { charge: { action: ['business'] } } }, { key: 'order-2001' })
    expect((await engine.run(saga.id, { defsDir: FIXTURE_STEPS })).status).toBe('suspended')
    const [plan, refused] = await Promise.all([
      cli('saga', 'retry', 'key:order-2001', '--from-step', 'reserve', '--dry-run', '--json'),
      cli('saga', 'retry', 'key:order-2001', '--from-step', 'ship', '--dry-run'),
    ])
    expect(plan.code, plan.stderr).toBe(0)
    expect(json(plan)).toMatchObject({
      sagaId: saga.id,
      allowed: true,
      steps: [
        { step: 'reserve', action: 'run', rerun: 1 },
        { step: 'charge', action: 'run', rerun: 1 },
        { step: 'ship', action: 'run', rerun: 0, status: null },
      ],
    })
    expect(refused.code).toBe(4)
    expect(refused.stdout.split('\n')[0]).toBe(`rerun would be refused: saga ${saga.id} has not finished step "charge" before "ship": rerun from "charge" or an earlier step`)
    const bulk = await cli('saga', 'retry', '--tag', 'region=eu', '--from-step', 'reserve')
    expect([bulk.code, bulk.stderr.trim()]).toEqual([2, 'error: --from-step needs a saga id: it does not apply to the bulk form'])

    const file = join(tmpdir(), `charge-${saga.id}.json`)
    writeFileSync(file, JSON.stringify({ charged: 25, by: 'phone' }))
    const skipped = await cli('saga', 'skip', 'key:order-2001', '--step', 'charge', '--output', `@${file}`, '--reason', 'charged by phone', '--json')
    expect(skipped.code, skipped.stderr).toBe(0)
    expect(json(skipped)).toMatchObject({ id: saga.id, status: 'running', currentStep: 'ship' })
    const steps = (await db.query(`SELECT name, status, output FROM steps WHERE saga_id = $1 AND name = 'charge'`, [saga.id])).rows
    expect(steps).toEqual([{ name: 'charge', status: 'skipped', output: { charged: 25, by: 'phone' } }])

    expect((await engine.run(saga.id, { defsDir: FIXTURE_STEPS })).status).toBe('completed')
    const rerun = await cli('saga', 'retry', 'key:order-2001', '--from-step', 'ship', '--reason', 'label lost', '--json')
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(json(rerun)).toMatchObject({ id: saga.id, status: 'running', currentStep: 'ship', finishedAt: null })
  })
})
