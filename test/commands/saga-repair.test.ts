import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { runCli, type CliResult } from '../helpers/cli.js'
import { pgUrl, useCliSchema } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, recordedCalls, scriptedDefinition } from '../helpers/engine.js'

const SAGA_FIELDS = ['id', 'definition', 'version', 'status', 'currentStep', 'createdAt', 'updatedAt', 'tags', 'forkedFrom']

describe.runIf(pgUrl)('finding and repairing sagas from the command line', () => {
  const t = useCliSchema()
  let engine: Engine
  const cli = (...a: string[]) => runCli([...a, ...t.args])
  const json = (r: CliResult) => JSON.parse(r.stdout)

  beforeAll(async () => {
    engine = new Engine(t.db)
    await applyYaml(t.db, scriptedDefinition('shop', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }, { name: 'ship' }]))
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
    const steps = (await t.db.query(`SELECT name, status, output FROM steps WHERE saga_id = $1 AND name = 'charge'`, [saga.id])).rows
    expect(steps).toEqual([{ name: 'charge', status: 'skipped', output: { charged: 25, by: 'phone' } }])

    expect((await engine.run(saga.id, { defsDir: FIXTURE_STEPS })).status).toBe('completed')
    const rerun = await cli('saga', 'retry', 'key:order-2001', '--from-step', 'ship', '--reason', 'label lost', '--json')
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(json(rerun)).toMatchObject({ id: saga.id, status: 'running', currentStep: 'ship', finishedAt: null })
  })

  it('fork and migrate: dry-run plans, refusals with exit 4, the fork linked both ways, the bulk form', async () => {
    await applyYaml(t.db, scriptedDefinition('shop', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }, { name: 'ship' }], 'timeout: 10m'))
    const { saga } = await engine.start('shop', { script: { charge: { action: ['business'] } } }, { key: 'order-3001', version: 1, tags: { wave: '3' } })
    expect((await engine.run(saga.id, { defsDir: FIXTURE_STEPS })).status).toBe('suspended')
    const done = (await engine.start('shop', {}, { version: 1, tags: { wave: '3' } })).saga
    await engine.run(done.id, { defsDir: FIXTURE_STEPS })

    const [plan, refused, refusedForReal, noReason] = await Promise.all([
      cli('saga', 'fork', 'key:order-3001', '--from-step', 'charge', '--version', 'latest', '--dry-run', '--json'),
      cli('saga', 'fork', 'key:order-3001', '--from-step', 'ship', '--dry-run'),
      cli('saga', 'fork', 'key:order-3001', '--from-step', 'ship', '--reason', 'try'),
      cli('saga', 'fork', 'key:order-3001', '--from-step', 'charge'),
    ])
    expect(plan.code, plan.stderr).toBe(0)
    expect(json(plan)).toEqual({
      sagaId: saga.id, status: 'suspended', definition: 'shop', fromVersion: 1, version: 2, fromStep: 'charge', key: null, inputReplaced: false, allowed: true, refusal: null,
      steps: [
        { step: 'reserve', index: 0, action: 'keep', status: 'succeeded' },
        { step: 'charge', index: 1, action: 'call', status: 'failed' },
        { step: 'ship', index: 2, action: 'call', status: null },
      ],
    })
    expect(refused.code).toBe(4)
    expect(refused.stdout.split('\n')[0]).toBe(`fork would be refused: saga ${saga.id} has not finished step "charge": fork from "charge" or an earlier step`)
    expect([refusedForReal.code, refusedForReal.stderr.trim()]).toEqual([4, `error: saga ${saga.id} has not finished step "charge": fork from "charge" or an earlier step`])
    expect((await t.db.query(`SELECT count(*)::int AS n FROM sagas WHERE forked_from = $1`, [saga.id])).rows[0]).toEqual({ n: 0 })
    expect([noReason.code, noReason.stderr.trim()]).toEqual([2, 'error: --reason is required: say why, for the audit log'])

    const forked = await cli('saga', 'fork', 'key:order-3001', '--from-step', 'charge', '--input', '{}', '--version', 'latest', '--reason', 'card replaced', '--json')
    expect(forked.code, forked.stderr).toBe(0)
    const fork = json(forked)
    expect(Object.keys(fork)).toEqual(expect.arrayContaining(SAGA_FIELDS))
    expect(fork).toMatchObject({ forkedFrom: saga.id, version: 2, status: 'running', currentStep: 'charge', key: null, input: {} })
    expect((await engine.run(fork.id, { defsDir: FIXTURE_STEPS })).status).toBe('completed')
    // The kept step is never called again: the fork's calls start at charge.
    expect(recordedCalls(fork.id).map((c) => c.step)).toEqual(['charge', 'ship'])

    const [shown, originalText, shownText, migratePlan, badVersion] = await Promise.all([
      cli('saga', 'show', 'key:order-3001', '--json'),
      cli('saga', 'show', 'key:order-3001'),
      cli('saga', 'show', fork.id),
      cli('saga', 'migrate', 'key:order-3001', '--to-version', 'latest', '--dry-run', '--json'),
      cli('saga', 'migrate', 'key:order-3001', '--to-version', '9', '--reason', 'x'),
    ])
    expect(shownText.stdout).toMatch(new RegExp(`forked from\\s+${saga.id}`))
    expect(json(shown).forks).toEqual([{ id: fork.id, status: 'completed', version: 2, currentStep: null, createdAt: expect.any(String) }])
    expect(originalText.stdout).toMatch(new RegExp(`forks\\n[\\s\\S]*${fork.id}\\s.*shop@2\\s.*completed`))
    expect(json(migratePlan)).toMatchObject({ sagaId: saga.id, fromVersion: 1, toVersion: 2, allowed: true, currentStep: 'charge', steps: [{ step: 'reserve', ran: true }, { step: 'charge', ran: true }, { step: 'ship', ran: false }] })
    expect([badVersion.code, badVersion.stderr.trim()]).toEqual([3, 'error: definition "shop" has no version 9 (latest is 2)'])

    // The bulk form: the suspended saga moves; the completed one and the fork (which has the original's tags, on version 2 already) are refused and named.
    const bulk = await cli('saga', 'migrate', '--def', 'shop', '--tag', 'wave=3', '--to-version', 'latest', '--reason', 'new version', '--yes', '--json')
    expect(bulk.code, bulk.stderr).toBe(4)
    expect(json(bulk)).toMatchObject({ matched: 3, succeeded: 1, refused: 2, changed: 0, failed: 0 })
    expect(json(bulk).conflicts).toEqual(expect.arrayContaining([
      { id: done.id, kind: 'state', message: `saga ${done.id} is completed: it has nothing left to run on another version` },
      { id: fork.id, kind: 'state', message: `saga ${fork.id} is already on version 2` },
    ]))
    expect(bulk.stderr).toContain('3 sagas match')
    expect((await engine.get(saga.id)).version).toBe(2)
    const entries = (await t.db.query(`SELECT action, details FROM audit_log WHERE saga_id = $1 ORDER BY id`, [saga.id])).rows
    expect(entries).toEqual([
      { action: 'saga.fork', details: expect.objectContaining({ fork: fork.id, fromStep: 'charge', version: 2 }) },
      { action: 'saga.migrate', details: expect.objectContaining({ fromVersion: 1, toVersion: 2 }) },
    ])
  })
})
