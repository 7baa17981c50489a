import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { runCli, type CliResult } from '../helpers/cli.js'
import { pgUrl, useCliSchema } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, scriptedDefinition } from '../helpers/engine.js'
import { insertSaga } from '../helpers/fixtures.js'

const SAGA_FIELDS = ['id', 'definition', 'version', 'status', 'currentStep', 'createdAt', 'updatedAt']
const json = (r: CliResult) => JSON.parse(r.stdout)
const failure = (r: CliResult) => [r.code, r.stderr.trim()]

describe.runIf(pgUrl)("the rest of an operator's day from the command line", () => {
  const s = useCliSchema()
  let engine: Engine
  const cli = (...a: string[]) => runCli([...a, ...s.args])
  const suspendedAt = async (def: string, step: string, key?: string) => {
    const { saga } = await engine.start(def, { script: { [step]: { action: ['business'] } } }, key ? { key } : {})
    return engine.run(saga.id, { defsDir: FIXTURE_STEPS })
  }

  beforeAll(async () => {
    engine = new Engine(s.db)
    const steps = [{ name: 'reserve', onFailure: 'suspend' as const }, { name: 'charge', onFailure: 'suspend' as const }, { name: 'ship' }]
    await applyYaml(s.db, scriptedDefinition('shop', steps))
    await applyYaml(s.db, scriptedDefinition('shop', steps, 'timeout: 1h'))
    await applyYaml(s.db, scriptedDefinition('desk', steps))
  })

  it('saga count, def diff and worker list: JSON shapes, text, and bad input', async () => {
    await engine.start('shop', {})
    await suspendedAt('shop', 'charge')
    await s.db.query(`INSERT INTO workers (id, host, pid, concurrency) VALUES ('w-1', 'box', 7, 4)`)
    const [count, bySteps, badBy, diff, noVersion, badVersion, workers, badRecent] = await Promise.all([
      cli('saga', 'count', '--def', 'shop', '--json'),
      cli('saga', 'count', '--def', 'shop', '--by', 'step'),
      cli('saga', 'count', '--by', 'colour'),
      cli('def', 'diff', 'shop', '1', 'latest', '--json'),
      cli('def', 'diff', 'shop', '1', '9'),
      cli('def', 'diff', 'shop', 'one', '2'),
      cli('worker', 'list', '--json'),
      cli('worker', 'list', '--recent', '5'),
    ])
    expect(count.code, count.stderr).toBe(0)
    expect(json(count)).toEqual({ by: 'status', total: 2, groups: [{ key: 'pending', count: 1 }, { key: 'suspended', count: 1 }] })
    expect(bySteps.code, bySteps.stderr).toBe(0)
    expect(bySteps.stdout).toMatch(/charge[\s│]+1 /)
    expect(bySteps.stdout).toMatch(/\(no step\)[\s│]+1 /)
    expect(bySteps.stdout).toContain('2 in all')
    expect(badBy.code).toBe(2)
    expect(badBy.stderr).toMatch(/^error: sagactl saga count: Expected --by=colour to be one of: status, definition, step, error/)
    expect(diff.code, diff.stderr).toBe(0)
    expect(json(diff)).toEqual({ name: 'shop', from: 1, to: 2, same: false, changes: [{ field: 'timeout', to: 3_600_000 }], steps: [] })
    expect(failure(noVersion)).toEqual([3, 'error: definition "shop" has no version 9 (latest is 2)'])
    expect(failure(badVersion)).toEqual([2, 'error: invalid v1 "one": a version number (1, 2, …) or latest'])
    expect(workers.code, workers.stderr).toBe(0)
    expect(json(workers)).toMatchObject({ items: [{ id: 'w-1', host: 'box', pid: 7, concurrency: 4, state: 'live', inFlight: 0, sagas: [] }] })
    expect(badRecent.code).toBe(2)
    expect(badRecent.stderr).toMatch(/needs a unit/)
  })

  it('saga wait exits with the saga code, 11 on timeout, 3 for no saga, 2 for a bad id', async () => {
    const done = await insertSaga(s.db, { definition: 'shop', status: 'completed' })
    const compensated = await insertSaga(s.db, { definition: 'shop', status: 'compensated', key: 'wait-comp' })
    const failed = await insertSaga(s.db, { definition: 'shop', status: 'failed' })
    const suspended = await suspendedAt('shop', 'reserve')
    const { saga: pending } = await engine.start('shop', {})
    const runs = await Promise.all([
      cli('saga', 'wait', done.saga.id, '--json'),
      cli('saga', 'wait', 'key:wait-comp'),
      cli('saga', 'wait', failed.saga.id),
      cli('saga', 'wait', suspended.id),
      cli('saga', 'wait', pending.id, '--timeout', '300ms', '--json'),
      cli('saga', 'wait', 'key:nobody'),
      cli('saga', 'wait', 'zz'),
    ])
    expect(runs.map((r) => r.code)).toEqual([0, 5, 7, 6, 11, 3, 2])
    expect(Object.keys(json(runs[0]!))).toEqual(expect.arrayContaining(SAGA_FIELDS))
    expect(json(runs[0]!)).toMatchObject({ id: done.saga.id, status: 'completed' })
    expect(runs[1]!.stdout.trim()).toBe(`saga ${compensated.saga.id} compensated`)
    expect(runs[3]!.stdout.trim()).toBe(`saga ${suspended.id} suspended at reserve`)
    expect(json(runs[4]!)).toMatchObject({ id: pending.id, status: 'pending' })
    expect(runs[4]!.stderr).toContain(`timed out after 300ms: saga ${pending.id} is still pending`)
    expect(runs[5]!.stderr.trim()).toBe('error: no saga was started with key "nobody"')
  })

  it('saga delete: refused on an unfinished saga with nothing changed, then deleted, audited, and its key refused', async () => {
    const running = await suspendedAt('desk', 'charge', 'desk-1')
    const finished = await insertSaga(s.db, { definition: 'desk', status: 'completed', key: 'desk-2' })
    const [noForce, refused, blank] = await Promise.all([
      cli('saga', 'delete', running.id, '--reason', 'r'),
      cli('saga', 'delete', 'key:desk-1', '--force', '--reason', 'cleanup'),
      cli('saga', 'delete', finished.saga.id, '--force', '--reason', ' '),
    ])
    expect(failure(noForce)).toEqual([2, 'error: a delete cannot be undone: add --force if that is what you want'])
    expect(failure(refused)).toEqual([4, `error: saga ${running.id} is suspended: only a finished saga (completed, compensated or failed) can be deleted`])
    expect(blank.code).toBe(2)
    expect(await engine.get(running.id)).toMatchObject({ status: 'suspended', revision: running.revision })

    const deleted = await cli('saga', 'delete', 'key:desk-2', '--force', '--reason', 'test order', '--operator', 'ana', '--json')
    expect(deleted.code, deleted.stderr).toBe(0)
    expect(json(deleted)).toMatchObject({ id: finished.saga.id, definition: 'desk', version: 1, status: 'completed', key: 'desk-2', deletedBy: 'ana' })
    const [again, audit, byKey, badCursor] = await Promise.all([
      cli('saga', 'start', 'desk', '--key', 'desk-2', '--json'),
      cli('audit', 'list', '--saga', finished.saga.id, '--json'),
      cli('audit', 'list', '--saga', 'key:desk-2', '--action', 'delete', '--operator', 'ana'),
      cli('audit', 'list', '--after', 'abc'),
    ])
    expect(again.code).toBe(4)
    expect(json(again).error).toMatchObject({ code: 'conflict', exitCode: 4, hint: 'a start key is never used again: start with a new key' })
    expect(json(again).error.message).toMatch(new RegExp(`^key "desk-2" belonged to saga ${finished.saga.id}, deleted at .+ by ana$`))
    expect(audit.code, audit.stderr).toBe(0)
    expect(json(audit)).toMatchObject({ items: [{ action: 'saga.delete', operator: 'ana', sagaId: finished.saga.id, reason: 'test order', details: { key: 'desk-2' } }], next: null })
    expect(byKey.code, byKey.stderr).toBe(0)
    expect(byKey.stdout).toMatch(/ana[\s│]+saga\.delete[\s│]+saga [0-9a-f-]+[\s│]+test order/)
    expect(failure(badCursor)).toEqual([2, 'error: invalid cursor "abc": --after takes the audit id printed as "next"'])
  })

  it('bulk saga skip and bulk intervention resolve: dry run with refusals, then the tallies', async () => {
    const atCharge = [await suspendedAt('desk', 'charge'), await suspendedAt('desk', 'charge')]
    const atReserve = await suspendedAt('desk', 'reserve')
    const sel = ['--def', 'desk', '--status', 'suspended', '--since', '1h']
    const [dry, outputBulk, noStep] = await Promise.all([
      cli('saga', 'skip', ...sel, '--step', 'charge', '--reason', 'charged by phone', '--dry-run', '--json'),
      cli('saga', 'skip', ...sel, '--step', 'charge', '--reason', 'r', '--output', '{}'),
      cli('saga', 'skip', ...sel, '--reason', 'r'),
    ])
    // The saga suspended at reserve (and desk-1, also at charge, from the delete test) counts too.
    expect(dry.code, dry.stderr).toBe(4)
    expect(json(dry)).toMatchObject({ dryRun: true, refused: 1, refusals: [{ reason: 'is stopped at step reserve, not charge', count: 1 }] })
    expect(json(dry).matched).toBe(json(dry).items.length)
    expect(failure(outputBulk)).toEqual([2, 'error: --output needs a saga id: it does not apply to the bulk form'])
    expect(noStep.code).toBe(2)

    const skipped = await cli('saga', 'skip', ...sel, '--step', 'charge', '--reason', 'charged by phone', '--yes', '--json')
    expect(skipped.code, skipped.stderr).toBe(4)
    const report = json(skipped)
    expect(report).toMatchObject({ refused: 1, changed: 0, failed: 0 })
    expect(report.succeeded).toBe(report.matched - 1)
    for (const saga of atCharge) expect((await engine.get(saga.id)).status).not.toBe('suspended')
    expect((await engine.get(atReserve.id)).status).toBe('suspended')

    const [resolveDry, resolved] = [
      await cli('intervention', 'resolve', '--def', 'desk', '--action', 'abort', '--note', 'order cancelled', '--dry-run', '--json'),
      await cli('intervention', 'resolve', '--def', 'desk', '--status', 'suspended', '--action', 'abort', '--note', 'order cancelled', '--yes', '--json'),
    ]
    expect(resolveDry.code).toBe(4)
    expect(json(resolveDry).refusals[0].reason).toMatch(/^is (completed|running|pending|failed): it has no open intervention$/)
    expect(resolved.code, resolved.stderr).toBe(0)
    expect(json(resolved)).toMatchObject({ matched: 1, succeeded: 1, refused: 0, changed: 0, failed: 0 })
    expect(await engine.get(atReserve.id)).toMatchObject({ status: 'failed' })
  })
})

describe('the help of these commands', () => {
  it('gives at least two examples each, of the command itself', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../oclif.manifest.json', import.meta.url), 'utf8'))
    for (const id of ['saga:count', 'saga:wait', 'saga:delete', 'audit:list', 'worker:list', 'def:diff', 'saga:skip', 'intervention:resolve']) {
      const examples: string[] = manifest.commands[id].examples
      expect(examples.length, id).toBeGreaterThanOrEqual(2)
      expect(examples.every((e) => `${e} `.startsWith(`<%= config.bin %> ${id.replace(':', ' ')} `)), id).toBe(true)
    }
  })
})
