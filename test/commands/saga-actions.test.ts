import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/migrator.js'
import { openDatabase } from '../../src/db/open.js'
import type { Database } from '../../src/db/types.js'
import { Engine } from '../../src/engine/engine.js'
import type { Saga } from '../../src/engine/types.js'
import { runCli, type CliResult } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, scriptedDefinition } from '../helpers/engine.js'
import { insertSaga } from '../helpers/fixtures.js'

const SAGA_FIELDS = ['id', 'definition', 'version', 'status', 'currentStep', 'createdAt', 'updatedAt']
const CAREFUL = [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' as const }, { name: 'ship' }]
const DECLINED = { charge: { action: ['business'] } }

describe.runIf(pgUrl)('operator action commands on the real server', () => {
  let db: Database
  let engine: Engine
  let args: string[]
  let drop: () => Promise<void>
  const cli = (...a: string[]) => runCli([...a, ...args])
  const json = (r: CliResult) => JSON.parse(r.stdout)
  const rows = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows

  beforeAll(async () => {
    const s = await freshPgSchema()
    drop = s.drop
    args = ['--database-url', s.url, '--schema', s.schema]
    db = await openDatabase({ url: s.url, schema: s.schema })
    await migrate(db)
    engine = new Engine(db)
    await applyYaml(db, scriptedDefinition('careful', CAREFUL))
    await applyYaml(db, scriptedDefinition('bulk', CAREFUL))
  })

  afterAll(async () => {
    await db?.close()
    await drop?.()
  })

  /** Runs a saga in this process until it rests; with DECLINED it suspends at charge with an open intervention. */
  async function rested(def: string, script: Record<string, unknown> = DECLINED): Promise<Saga> {
    const { saga } = await engine.start(def, { script })
    return engine.run(saga.id, { defsDir: FIXTURE_STEPS })
  }

  /** Everything an action writes: saga rows, steps, the journal, interventions, the audit log. */
  async function snapshot() {
    return {
      sagas: await rows(`SELECT id, status, revision, step_name, updated_at FROM sagas ORDER BY id`),
      steps: await rows(`SELECT saga_id, step_index, phase, status, attempts FROM steps ORDER BY saga_id, step_index, phase`),
      events: await rows(`SELECT count(*)::int AS n FROM events`),
      interventions: await rows(`SELECT id, status FROM interventions ORDER BY id`),
      audit: await rows(`SELECT count(*)::int AS n FROM audit_log`),
    }
  }

  const auditOf = async (sagaId: string) => json(await cli('saga', 'show', sagaId, '--json')).audit as Array<Record<string, unknown>>

  it('retry resumes a suspended saga by id prefix, audited; retrying it again is a conflict that changes nothing', async () => {
    const s = await rested('careful')
    expect(s.status).toBe('suspended')
    const res = await cli('saga', 'retry', s.id.slice(0, 23), '--reason', 'card fixed', '--operator', 'ana')
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toBe(`retried ${s.id.slice(0, 13)}… (suspended -> running)\n`)
    const audit = await auditOf(s.id)
    expect(audit.at(-1)).toMatchObject({ operator: 'ana', action: 'saga.retry', reason: 'card fixed', details: { from: 'suspended', to: 'running' } })
    expect(await rows(`SELECT status, resolved_by FROM interventions WHERE saga_id = $1`, [s.id])).toEqual([{ status: 'resolved', resolved_by: 'ana' }])

    const before = await snapshot()
    const again = await cli('saga', 'retry', s.id, '--json')
    expect(again.code).toBe(4)
    expect(json(again).error).toMatchObject({ code: 'conflict', exitCode: 4 })
    expect(again.stderr).toMatch(/^error: saga .* is running and not failing: nothing to retry\n$/)
    expect(await snapshot()).toEqual(before)
  })

  it('compensate --dry-run prints the plan and changes nothing; compensate starts the rollback', async () => {
    const s = await rested('careful', { charge: { action: ['transient'] } })
    expect(s.status).toBe('suspended')
    const before = await snapshot()
    const [dry, table] = await Promise.all([cli('saga', 'compensate', s.id, '--dry-run', '--json'), cli('saga', 'compensate', s.id.slice(0, 23), '--dry-run')])
    expect(dry.code, dry.stderr).toBe(0)
    expect(json(dry)).toEqual({
      sagaId: s.id,
      status: 'suspended',
      allowed: true,
      refusal: null,
      steps: [
        { step: 'reserve', index: 0, order: 2, compensate: true, why: 'action succeeded' },
        { step: 'charge', index: 1, order: 1, compensate: true, why: 'action attempted, outcome unknown (transient)' },
        { step: 'ship', index: 2, order: null, compensate: false, why: 'never attempted' },
      ],
    })
    expect(table.code, table.stderr).toBe(0)
    const lines = table.stdout.split('\n')
    expect(lines[0]).toBe(`saga ${s.id.slice(0, 13)}… (suspended): 2 of 3 steps would be compensated`)
    expect(lines.findIndex((l) => /1\s+│?\s*charge\s.*yes/.test(l))).toBeLessThan(lines.findIndex((l) => /2\s+│?\s*reserve\s.*yes/.test(l)))
    expect(table.stdout).toMatch(/ship\s.*no\s.*never attempted/)
    expect(table.stdout).toContain('dry run: nothing changed')
    expect(await snapshot()).toEqual(before)

    const res = await cli('saga', 'compensate', s.id, '--reason', 'customer cancelled', '--json')
    expect(res.code, res.stderr).toBe(0)
    const saga = json(res)
    expect(Object.keys(saga)).toEqual(expect.arrayContaining(SAGA_FIELDS))
    expect(saga).toMatchObject({ id: s.id, status: 'compensating', reason: 'operator: customer cancelled' })
    expect((await auditOf(s.id)).at(-1)).toMatchObject({ action: 'saga.compensate', reason: 'customer cancelled' })

    // Now compensating: the dry run says up front that compensate would be refused, and exits as it would.
    const settled = await snapshot()
    const [again, againJson] = await Promise.all([cli('saga', 'compensate', s.id, '--dry-run'), cli('saga', 'compensate', s.id, '--dry-run', '--json')])
    expect(again.code).toBe(4)
    expect(again.stdout.split('\n')[0]).toBe(`compensate would be refused: saga ${s.id} is already compensating`)
    expect(againJson.code).toBe(4)
    expect(json(againJson)).toMatchObject({ allowed: false, refusal: `saga ${s.id} is already compensating` })
    const real = await cli('saga', 'compensate', s.id)
    expect([real.code, real.stderr.trim()]).toEqual([4, `error: saga ${s.id} is already compensating`])
    expect(await snapshot()).toEqual(settled)
  })

  it('skip marks the failed step done and continues; the wrong step or a missing --reason changes nothing', async () => {
    const s = await rested('careful')
    const before = await snapshot()
    const [wrong, bare] = await Promise.all([cli('saga', 'skip', s.id, '--step', 'ship', '--reason', 'x'), cli('saga', 'skip', s.id, '--step', 'charge')])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('step "ship" is not the failed step')
    expect(bare.code).toBe(2)
    expect(bare.stderr).toMatch(/reason/)
    expect(await snapshot()).toEqual(before)

    const res = await cli('saga', 'skip', s.id, '--step', 'charge', '--reason', 'charged by phone', '--operator', 'ana')
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toBe(`skipped charge of ${s.id.slice(0, 13)}… (suspended -> running)\n`)
    expect(await rows(`SELECT status FROM steps WHERE saga_id = $1 AND name = 'charge' AND phase = 'action'`, [s.id])).toEqual([{ status: 'skipped' }])
    expect((await auditOf(s.id)).at(-1)).toMatchObject({ operator: 'ana', action: 'saga.skip', reason: 'charged by phone' })
  })

  it('abort refuses without --force, then marks the saga failed without compensating', async () => {
    const s = await rested('careful')
    const before = await snapshot()
    const refused = await cli('saga', 'abort', s.id, '--reason', 'duplicate order')
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('abort marks the saga failed WITHOUT compensating')
    expect(refused.stderr).toContain('saga compensate')
    expect(await snapshot()).toEqual(before)

    const res = await cli('saga', 'abort', s.id, '--reason', 'duplicate order', '--force', '--json')
    expect(res.code, res.stderr).toBe(0)
    expect(json(res)).toMatchObject({ id: s.id, status: 'failed', reason: 'aborted: duplicate order' })
    expect(await rows(`SELECT count(*)::int AS n FROM steps WHERE saga_id = $1 AND phase = 'compensation'`, [s.id])).toEqual([{ n: 0 }])
    expect((await auditOf(s.id)).at(-1)).toMatchObject({ action: 'saga.abort', reason: 'duplicate order' })
  })

  it('intervention resolve acts on the saga and records the note; a missing --note or unknown action changes nothing', async () => {
    const s = await rested('careful')
    const [iv] = (await rows(`SELECT id FROM interventions WHERE saga_id = $1 AND status = 'open'`, [s.id])) as Array<{ id: string }>
    const before = await snapshot()
    const [noNote, badAction] = await Promise.all([
      cli('intervention', 'resolve', iv!.id, '--action', 'retry'),
      cli('intervention', 'resolve', iv!.id, '--action', 'ignore', '--note', 'x'),
    ])
    expect([noNote.code, badAction.code]).toEqual([2, 2])
    expect(noNote.stderr).toMatch(/note/)
    expect(await snapshot()).toEqual(before)

    const res = await cli('intervention', 'resolve', iv!.id.slice(0, 23), '--action', 'compensate', '--note', 'refund checked', '--operator', 'ana')
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toBe(`resolved intervention ${iv!.id.slice(0, 13)}… with compensate: saga ${s.id.slice(0, 13)}… (suspended -> compensating)\n`)
    expect(await rows(`SELECT status, action, note, resolved_by FROM interventions WHERE id = $1`, [iv!.id])).toEqual([
      { status: 'resolved', action: 'compensate', note: 'refund checked', resolved_by: 'ana' },
    ])
    expect((await auditOf(s.id)).at(-1)).toMatchObject({ operator: 'ana', action: 'intervention.resolve', target: iv!.id, reason: 'refund checked' })
    const twice = await cli('intervention', 'resolve', iv!.id, '--action', 'retry', '--note', 'again')
    expect(twice.code).toBe(4)
  })

  it('exit codes: 2 for bad input, 3 for an unknown id, 4 when the state forbids it; none of them changes anything', async () => {
    const done = await rested('careful', {})
    expect(done.status).toBe('completed')
    for (const id of ['0190aaaa-bbbb-7000-8000-000000000001', '0190aaaa-bbbb-7000-8000-000000000002']) await insertSaga(db, { id, definition: 'careful', status: 'suspended' })
    const before = await snapshot()
    const cases: Array<[number, string[], RegExp]> = [
      [3, ['saga', 'retry', 'ffffffff-ffff'], /no saga matches "ffffffff-ffff"/],
      [2, ['saga', 'retry', '0190aaaa'], /ambiguous saga id "0190aaaa"/],
      [2, ['saga', 'retry', 'not-an-id'], /invalid saga id/],
      [4, ['saga', 'retry', done.id], /is completed: nothing to retry/],
      [4, ['saga', 'abort', done.id, '--reason', 'x', '--force'], /already completed/],
      [4, ['saga', 'compensate', done.id], /cannot be compensated/],
      [2, ['saga', 'retry', done.id, '--status', 'suspended'], /give a saga id or filter flags, not both/],
      [2, ['saga', 'retry'], /give a saga id, or filter flags/],
      [2, ['saga', 'retry', done.id, '--rps', '3'], /--rps applies to the bulk form only/],
      [2, ['saga', 'retry', '--status', 'suspended', '--step', 'charge', '--yes'], /--step needs a saga id/],
      [2, ['saga', 'compensate', '--def', 'careful', '--rps', '0', '--yes'], /--rps must be a positive number/],
      [2, ['saga', 'retry', done.id, '--frobnicate'], /frobnicate/],
    ]
    const results = await Promise.all(cases.map(([, a]) => cli(...a)))
    results.forEach((r, i) => {
      const [code, a, message] = cases[i]!
      expect({ args: a, code: r.code }).toEqual({ args: a, code })
      expect(r.stderr.split('\n')[0]).toMatch(/^error: /)
      expect(r.stderr.split('\n')[0]).toMatch(message)
    })
    expect(await snapshot()).toEqual(before)
  })

  it('two retry processes racing on one saga: one succeeds, the other gets a conflict', async () => {
    const s = await rested('careful')
    const results = await Promise.all([cli('saga', 'retry', s.id, '--operator', 'ana'), cli('saga', 'retry', s.id, '--operator', 'bob')])
    expect(results.map((r) => r.code).sort()).toEqual([0, 4])
    expect(await rows(`SELECT count(*)::int AS n FROM audit_log WHERE saga_id = $1 AND action = 'saga.retry'`, [s.id])).toEqual([{ n: 1 }])
  })

  it('bulk: --dry-run lists, no --yes without a terminal refuses, --yes acts at the --rps pace, conflicts are counted', async () => {
    const made: Saga[] = []
    for (let i = 0; i < 5; i++) made.push(await rested('bulk'))
    const newestFirst = made.map((s) => s.id).reverse()
    const filter = ['--status', 'suspended', '--def', 'bulk']
    const before = await snapshot()
    const [dry, dryTable, refused] = await Promise.all([
      cli('saga', 'retry', ...filter, '--dry-run', '--json'),
      cli('saga', 'compensate', ...filter, '--dry-run'),
      cli('saga', 'retry', ...filter),
    ])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stderr).toBe('5 sagas match\n')
    const listed = json(dry)
    expect(listed).toMatchObject({ dryRun: true, matched: 5 })
    expect(listed.items.map((s: Saga) => s.id)).toEqual(newestFirst)
    expect(dryTable.code, dryTable.stderr).toBe(0)
    for (const id of newestFirst) expect(dryTable.stdout).toContain(id.slice(0, 8))
    expect(dryTable.stdout).toContain('dry run: would act on 5 sagas; nothing changed')
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('refusing to act on 5 sagas without --yes (stdin is not a terminal)')
    expect(await snapshot()).toEqual(before)

    const t0 = Date.now()
    const retried = await cli('saga', 'retry', ...filter, '--yes', '--rps', '2', '--reason', 'provider back', '--json')
    // Five starts at 2 per second: at least four half-second gaps.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000)
    expect(retried.code, retried.stderr).toBe(0)
    expect(json(retried)).toEqual({ matched: 5, succeeded: 5, refused: 0, changed: 0, conflicted: 0, failed: 0, errors: [], conflicts: [] })
    expect(await rows(`SELECT DISTINCT status FROM sagas WHERE definition = 'bulk'`)).toEqual([{ status: 'running' }])
    expect(await rows(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'saga.retry' AND reason = 'provider back'`)).toEqual([{ n: 5 }])

    const aborted = await cli('saga', 'abort', '--def', 'bulk', '--status', 'running', '--limit', '3', '--reason', 'cleanup', '--force', '--yes', '--json')
    expect(aborted.code, aborted.stderr).toBe(0)
    expect(aborted.stderr).toBe('5 sagas match (--limit: the newest 3)\n')
    expect(json(aborted)).toEqual({ matched: 3, succeeded: 3, refused: 0, changed: 0, conflicted: 0, failed: 0, errors: [], conflicts: [] })
    const failed = await rows(`SELECT id FROM sagas WHERE definition = 'bulk' AND status = 'failed' ORDER BY id DESC`)
    expect(failed.map((r) => r.id)).toEqual(newestFirst.slice(0, 3))

    const mid = await snapshot()
    const [again, againDry, compensated] = await Promise.all([
      cli('saga', 'abort', '--def', 'bulk', '--status', 'failed', '--reason', 'again', '--force', '--yes', '--json'),
      cli('saga', 'abort', '--def', 'bulk', '--status', 'failed', '--reason', 'again', '--dry-run'),
      cli('saga', 'compensate', '--def', 'bulk', '--status', 'running', '--yes'),
    ])
    expect(again.code).toBe(4)
    expect(again.stderr).toContain('all 3 would be refused, and are left alone: 3 is already failed')
    // The dry run says the same before anything is asked, and exits as the action would.
    expect(againDry.code).toBe(4)
    expect(againDry.stdout).toContain('dry run: would act on 0 sagas, and be refused on 3; nothing changed')
    const tally = json(again)
    expect(tally).toMatchObject({ matched: 3, succeeded: 0, refused: 3, changed: 0, conflicted: 3, failed: 0, errors: [] })
    expect(tally.conflicts.map((c: { id: string }) => c.id)).toEqual(newestFirst.slice(0, 3))
    expect(tally.conflicts[0].message).toMatch(/is already failed/)
    expect(compensated.code, compensated.stderr).toBe(0)
    expect(compensated.stdout).toContain('compensating 2 of 2 sagas')
    expect(compensated.stdout).toMatch(/succeeded\s.*2/)
    const after = await snapshot()
    // The refused aborts left the failed sagas exactly as they were.
    const failedRows = (snap: typeof mid) => snap.sagas.filter((r) => newestFirst.slice(0, 3).includes(r.id as string))
    expect(failedRows(after)).toEqual(failedRows(mid))
    expect(await rows(`SELECT DISTINCT status FROM sagas WHERE definition = 'bulk' AND status <> 'failed'`)).toEqual([{ status: 'compensating' }])
  })

  it('every action command has --help with at least two examples', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../../oclif.manifest.json', import.meta.url), 'utf8'))
    for (const id of ['saga:retry', 'saga:compensate', 'saga:skip', 'saga:abort', 'saga:fork', 'saga:migrate', 'intervention:resolve']) {
      const examples: string[] = manifest.commands[id].examples
      expect(examples.length, id).toBeGreaterThanOrEqual(2)
      expect(examples.every((e) => e.startsWith(`<%= config.bin %> ${id.replace(':', ' ')} `))).toBe(true)
    }
    const help = await runCli(['saga', 'retry', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('sagactl saga retry 0193ab12')
    expect(help.stdout).toContain('sagactl saga retry --status suspended --def order-checkout --dry-run')
  })
})
