import { PassThrough } from 'node:stream'
import { beforeAll, describe, expect, it } from 'vitest'
import { actionTarget, bulkExitCode, matchingSagas, runBulk, type BulkProgress } from '../../src/cli/bulk.js'
import { canPrompt, confirm } from '../../src/cli/confirm.js'
import { Engine } from '../../src/engine/engine.js'
import type { Saga } from '../../src/engine/types.js'
import { ChangedError, ConflictError, NotFoundError, UsageError } from '../../src/errors.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, scriptedDefinition } from '../helpers/engine.js'

const targets = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `s${i}`, revision: i }))

describe('runBulk', () => {
  it('tallies successes, refusals, changes and failures, keeping the first few messages', async () => {
    const progress: BulkProgress[] = []
    const seen: Array<[string, number | undefined]> = []
    const refusedUpFront = { id: 's8', revision: 8, refusal: 'is completed: nothing to retry' }
    const tally = await runBulk(
      [...targets(8), refusedUpFront],
      async (id, revision) => {
        seen.push([id, revision])
        const i = Number(id.slice(1))
        if (i === 1) throw new ChangedError(`${id} changed`)
        if (i === 5) throw new ConflictError(`${id} is completed`)
        if (i % 4 === 2) throw new Error(`${id} broke`)
        if (i === 7) throw new NotFoundError(`${id} is gone`)
      },
      { maxErrors: 3, onProgress: (p) => progress.push(p) },
    )
    expect(tally).toEqual({
      succeeded: 3,
      refused: 2,
      changed: 1,
      conflicted: 3,
      failed: 3,
      errors: [{ id: 's2', message: 's2 broke' }, { id: 's6', message: 's6 broke' }, { id: 's7', message: 's7 is gone' }],
      conflicts: [
        { id: 's1', message: 's1 changed', kind: 'changed' },
        { id: 's5', message: 's5 is completed', kind: 'state' },
        { id: 's8', message: 'saga s8 is completed: nothing to retry', kind: 'state' },
      ],
    })
    // The saga refused on what was read is never acted on.
    expect(seen).toEqual(targets(8).map((t) => [t.id, t.revision]))
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(progress.at(-1)).toEqual({ done: 9, succeeded: 3, refused: 2, changed: 1, conflicted: 3, failed: 3 })
    expect(bulkExitCode(tally)).toBe(1)
  })

  it('exits 0 when all succeeded, 4 when some conflicted and none failed', () => {
    const none = { errors: [], conflicts: [] }
    expect(bulkExitCode({ succeeded: 3, conflicted: 0, failed: 0, ...none })).toBe(0)
    expect(bulkExitCode({ succeeded: 3, conflicted: 1, failed: 0, ...none })).toBe(4)
    expect(bulkExitCode({ succeeded: 0, conflicted: 1, failed: 1, ...none })).toBe(1)
  })

  it('spaces the starts at least 1/rps apart, from an async source', async () => {
    const starts: number[] = []
    async function* source() {
      yield* targets(5)
    }
    const t0 = Date.now()
    const tally = await runBulk(source(), async () => void starts.push(Date.now()), { rps: 20 })
    expect(tally.succeeded).toBe(5)
    // 5 starts at 20/s: four gaps of 50 ms (1 ms of slack for the clock's granularity).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(199)
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(49)
  })
})

describe('confirm', () => {
  async function ask(answer: string | null): Promise<{ yes: boolean; prompt: string }> {
    const input = new PassThrough()
    const output = new PassThrough()
    let prompt = ''
    output.on('data', (d) => (prompt += d))
    const pending = confirm('Retry 1,234 sagas?', { input, output })
    if (answer === null) input.end()
    else input.write(answer)
    return { yes: await pending, prompt }
  }

  it('is yes only for y or yes; Enter, n and end of input are no', async () => {
    expect(await ask('y\n')).toEqual({ yes: true, prompt: 'Retry 1,234 sagas? [y/N] ' })
    expect((await ask('YES\n')).yes).toBe(true)
    expect((await ask('\n')).yes).toBe(false)
    expect((await ask('n\n')).yes).toBe(false)
    expect((await ask('yep\n')).yes).toBe(false)
    expect((await ask(null)).yes).toBe(false)
  })

  it('cannot prompt on a pipe', () => {
    expect(canPrompt(new PassThrough())).toBe(false)
  })
})

describe('actionTarget', () => {
  it('takes an id or filters, exactly one of them, and flags of the matching form', () => {
    expect(actionTarget('0193ab12', {})).toEqual({ kind: 'one', id: '0193ab12' })
    expect(actionTarget(undefined, { status: ['suspended'], def: 'checkout' })).toEqual({ kind: 'many', filter: { status: ['suspended'], definition: 'checkout' } })
    expect(() => actionTarget('0193ab12', { status: ['suspended'] })).toThrow(UsageError)
    expect(() => actionTarget(undefined, { 'stuck-after': 60_000 })).toThrow(/give a saga id, or filter flags/)
    expect(() => actionTarget('0193ab12', { rps: 5 })).toThrow(/--rps applies to the bulk form only/)
    expect(() => actionTarget('0193ab12', {}, { bulkOnly: { 'dry-run': true } })).toThrow(/--dry-run applies to the bulk form only/)
    expect(actionTarget('0193ab12', {}, { bulkOnly: { 'dry-run': false } })).toEqual({ kind: 'one', id: '0193ab12' })
    expect(() => actionTarget(undefined, { failing: true }, { singleOnly: { step: 'charge' } })).toThrow(/--step needs a saga id/)
  })
})

describe.each(drivers)('bulk over the engine on %s', (kind) => {
  const t = useTestDatabase(kind)
  let engine: Engine

  beforeAll(async () => {
    engine = new Engine(t.db)
    await applyYaml(t.db, scriptedDefinition('careful', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }, { name: 'ship' }]))
  })

  async function suspendedSagas(n: number, key: string): Promise<Saga[]> {
    const out: Saga[] = []
    for (let i = 0; i < n; i++) {
      const { saga } = await engine.start('careful', { batch: key, script: { charge: { action: ['business'] } } })
      out.push(await engine.run(saga.id, { defsDir: FIXTURE_STEPS }))
    }
    expect(out.map((s) => s.status)).toEqual(Array(n).fill('suspended'))
    return out
  }

  const revisions = async () => new Map((await t.db.query<{ id: string; revision: number }>(`SELECT id, revision FROM sagas`)).rows.map((r) => [r.id, r.revision]))

  it('reads in id-cursor chunks while acting changes the statuses: each saga once, newest first, capped', async () => {
    const made = await suspendedSagas(5, 'chunks')
    const acted: string[] = []
    async function* flat() {
      for await (const chunk of matchingSagas(t.db, { status: ['suspended'], definition: 'careful' }, 4, 2)) {
        expect(chunk.length).toBeLessThanOrEqual(2)
        yield* chunk
      }
    }
    const tally = await runBulk(flat(), async (id, expectedRevision) => {
      acted.push(id)
      await engine.retry(id, { operator: 'bulk-test', expectedRevision })
    })
    expect(tally).toEqual({ succeeded: 4, refused: 0, changed: 0, conflicted: 0, failed: 0, errors: [], conflicts: [] })
    expect(acted).toEqual(made.map((s) => s.id).reverse().slice(0, 4))
    expect((await engine.get(made[0]!.id)).status).toBe('suspended')
  })

  it('counts a saga another operator changed after its chunk was read as a conflict, and leaves it alone', async () => {
    const made = await suspendedSagas(3, 'stale')
    const [first, , last] = [...made].reverse()
    let other: Saga | undefined
    const chunks = matchingSagas(t.db, { status: ['suspended'], definition: 'careful' }, 3)
    async function* flat() {
      for await (const chunk of chunks) yield* chunk
    }
    const tally = await runBulk(flat(), async (id, expectedRevision) => {
      // Another operator aborts the oldest saga while the run is on the newest.
      if (id === first!.id) other = await engine.abort(last!.id, { operator: 'someone-else', reason: 'duplicate' })
      await engine.retry(id, { operator: 'bulk-test', expectedRevision })
    })
    expect(tally).toMatchObject({ succeeded: 2, changed: 1, refused: 0, conflicted: 1, failed: 0, errors: [], conflicts: [{ id: last!.id, kind: 'changed' }] })
    expect(tally.conflicts[0]!.message).toMatch(/changed since you looked at it/)
    const after = await engine.get(last!.id)
    expect(after).toMatchObject({ status: 'failed', revision: other!.revision })
    const audit = await t.db.query(`SELECT operator, action FROM audit_log WHERE saga_id = $1 ORDER BY id`, [last!.id])
    expect(audit.rows).toEqual([{ operator: 'someone-else', action: 'saga.abort' }])
  })

  it('a stale revision passed straight to the loop is a conflict and changes nothing', async () => {
    const [saga] = await suspendedSagas(1, 'direct')
    const before = await revisions()
    const tally = await runBulk([{ id: saga!.id, revision: saga!.revision - 1 }], (id, expectedRevision) => engine.compensate(id, { operator: 'bulk-test', expectedRevision }))
    expect(tally).toMatchObject({ succeeded: 0, changed: 1, conflicted: 1, failed: 0, errors: [] })
    expect(await revisions()).toEqual(before)
  })
})
