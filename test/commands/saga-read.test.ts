import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/migrator.js'
import { openDatabase } from '../../src/db/open.js'
import { channelFor, type Database } from '../../src/db/types.js'
import { runCli, spawnCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { insertEvent, insertSaga, type SagaFixture } from '../helpers/fixtures.js'

const SAGA_FIELDS = ['id', 'definition', 'version', 'status', 'currentStep', 'createdAt', 'updatedAt']
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** Resolves once the child's stdout satisfies `done`, with what it printed so far. */
function waitForOutput(child: ChildProcess, done: (out: string) => boolean, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`timed out waiting for output; got:\n${out}`)), timeoutMs)
    const check = () => {
      if (!done(out)) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      resolve(out)
    }
    const onData = (d: Buffer) => {
      out += d
      check()
    }
    child.stdout!.on('data', onData)
  })
}

function exitOf(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the command did not stop by itself')), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

describe.runIf(pgUrl)('saga and intervention read commands on the real server', () => {
  let db: Database
  let args: string[]
  let drop: () => Promise<void>
  let done: SagaFixture
  let suspended: SagaFixture
  const all: string[] = []
  const cli = (...a: string[]) => runCli([...a, ...args])

  beforeAll(async () => {
    const s = await freshPgSchema()
    drop = s.drop
    args = ['--database-url', s.url, '--schema', s.schema]
    db = await openDatabase({ url: s.url, schema: s.schema })
    await migrate(db)
    const t0 = Date.now() - 3_600_000
    done = await insertSaga(db, {
      createdAt: new Date(t0),
      status: 'completed',
      steps: [{ name: 'reserve-inventory' }, { name: 'process-payment' }],
      events: [{ type: 'saga.created' }, { type: 'step.succeeded', step: 'reserve-inventory', phase: 'action', attempt: 1 }, { type: 'saga.completed' }],
    })
    suspended = await insertSaga(db, {
      createdAt: new Date(t0 + 60_000),
      status: 'suspended',
      currentStep: 'process-payment',
      stepIndex: 1,
      key: 'order-42',
      reason: 'compensation of process-payment exhausted its retries',
      compensationPlan: [1, 0],
      steps: [
        { index: 0, name: 'reserve-inventory' },
        { index: 1, name: 'process-payment', status: 'failed', attempts: 3, lastError: 'HTTP 503 from payment', errorKind: 'transient' },
        { index: 1, name: 'process-payment', phase: 'compensation', status: 'failed', attempts: 5, lastError: 'refund refused' },
      ],
      events: Array.from({ length: 25 }, (_, i) => ({ type: 'step.failed' as const, step: 'process-payment', attempt: i + 1, data: { kind: 'transient', error: `try ${i}` } })),
      intervention: { reason: 'refund refused five times', step: 'process-payment', phase: 'compensation' },
      audit: [{ operator: 'alice', action: 'retry', reason: 'payment service back up' }],
    })
    all.push(done.saga.id, suspended.saga.id)
    for (let i = 0; i < 3; i++) all.push((await insertSaga(db, { definition: 'refund', status: 'running', createdAt: new Date(t0 + 120_000 + i) })).saga.id)
    // Two sagas whose ids share 12 characters, for the ambiguous prefix.
    for (const id of ['0190aaaa-bbbb-7000-8000-000000000001', '0190aaaa-bbbb-7000-8000-000000000002']) all.push((await insertSaga(db, { id, status: 'failed' })).saga.id)
  })

  afterAll(async () => {
    await db?.close()
    await drop?.()
  })

  it('saga list --json: the SPEC shape, newest first, keyset pages', async () => {
    const res = await cli('saga', 'list', '--json', '--limit', '4')
    expect(res.code, res.stderr).toBe(0)
    const doc = JSON.parse(res.stdout)
    expect(Object.keys(doc).sort()).toEqual(['items', 'next'])
    expect(doc.items).toHaveLength(4)
    for (const item of doc.items) {
      expect(Object.keys(item)).toEqual(expect.arrayContaining(SAGA_FIELDS))
      expect(item.createdAt).toMatch(ISO)
    }
    expect(doc.next).toBe(doc.items[3].id)
    const rest = JSON.parse((await cli('saga', 'list', '--json', '--limit', '4', '--after', doc.next)).stdout)
    expect(rest.next).toBeNull()
    expect([...doc.items, ...rest.items].map((s: { id: string }) => s.id)).toEqual([...all].sort().reverse())
    const filtered = JSON.parse((await cli('saga', 'list', '--json', '--status', 'suspended,completed', '--def', 'order-checkout')).stdout)
    expect(filtered.items.map((s: { id: string }) => s.id)).toEqual([suspended.saga.id, done.saga.id])
  })

  it('saga list: a table with short ids and a footer', async () => {
    const res = await cli('saga', 'list', '--def', 'order-checkout', '--limit', '1')
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toContain(suspended.saga.id.slice(0, 8))
    expect(res.stdout).toContain('order-checkout@1')
    expect(res.stdout).toContain('suspended')
    expect(res.stdout).toContain(`1 shown; more: --after ${suspended.saga.id}`)
  })

  it('saga show: header, timeline in execution order, intervention, audit', async () => {
    const res = await cli('saga', 'show', suspended.saga.id.slice(0, 13))
    expect(res.code, res.stderr).toBe(0)
    for (const text of [suspended.saga.id, 'order-checkout@1', 'suspended', 'order-42', 'HTTP 503 from payment', 'refund refused five times', 'alice', 'payment service back up']) {
      expect(res.stdout).toContain(text)
    }
    const rows = res.stdout.split('\n').map((l) => l.match(/^│\s*(action|compensation)\s*│\s*(\d+)\s*│/)).filter((m) => m !== null)
    expect(rows.map((m) => `${m[1]}:${m[2]}`)).toEqual(['action:0', 'action:1', 'compensation:1'])
  })

  it('saga show --json: saga, steps, intervention, audit, the last 20 events', async () => {
    const res = await cli('saga', 'show', suspended.saga.id, '--json')
    expect(res.code, res.stderr).toBe(0)
    const doc = JSON.parse(res.stdout)
    expect(Object.keys(doc).sort()).toEqual(['audit', 'events', 'forks', 'intervention', 'saga', 'steps', 'waiting'])
    expect(doc.saga).toMatchObject({ id: suspended.saga.id, status: 'suspended', currentStep: 'process-payment', key: 'order-42' })
    expect(doc.steps.map((s: { phase: string; index: number }) => `${s.phase}:${s.index}`)).toEqual(['action:0', 'action:1', 'compensation:1'])
    expect(doc.intervention).toMatchObject({ id: suspended.intervention!.id, status: 'open', sagaStatus: 'suspended' })
    expect(doc.audit).toMatchObject([{ operator: 'alice', action: 'retry' }])
    expect(doc.events).toHaveLength(20)
    expect(doc.events.at(-1).id).toBe(suspended.events.at(-1)!.id)
  })

  it('saga events --json: the whole history in order', async () => {
    const res = await cli('saga', 'events', done.saga.id, '--json')
    expect(res.code, res.stderr).toBe(0)
    const doc = JSON.parse(res.stdout)
    expect(doc.next).toBeNull()
    expect(doc.items.map((e: { type: string }) => e.type)).toEqual(['saga.created', 'step.succeeded', 'saga.completed'])
    expect(doc.items[1]).toMatchObject({ sagaId: done.saga.id, step: 'reserve-inventory', phase: 'action', attempt: 1 })
  })

  it('saga events --follow --json: streams events as they are notified, stops when the saga finishes', async () => {
    const live = await insertSaga(db, { status: 'running', events: [{ type: 'saga.started' }] })
    const child = spawnCli(['saga', 'events', live.saga.id.slice(0, 30), '--follow', '--json', ...args])
    const exited = exitOf(child)
    const parse = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: string | null })
    expect(parse(await waitForOutput(child, (o) => o.includes('saga.started'))).map((e) => e.type)).toEqual(['saga.started'])

    const notify = (changes: unknown) => db.query('SELECT pg_notify($1, $2)', [channelFor(db.schema), JSON.stringify({ changes, count: 1 })])
    const more = waitForOutput(child, (o) => o.includes('step.started'))
    await insertEvent(db, live.saga.id, { type: 'step.started', step: 'reserve-inventory', phase: 'action', attempt: 1 })
    const sent = Date.now()
    await notify([{ id: live.saga.id, status: 'running', event: 'step.started', step: 'reserve-inventory' }])
    expect(parse(await more)).toMatchObject([{ type: 'step.started', step: 'reserve-inventory' }])
    expect(Date.now() - sent).toBeLessThan(1500)

    await db.transaction(async (tx) => {
      await tx.query(`UPDATE sagas SET status = 'completed', finished_at = now() WHERE id = $1`, [live.saga.id])
      await insertEvent(tx, live.saga.id, { type: 'saga.completed' })
    })
    await notify(undefined)
    expect(await exited).toBe(0)
  })

  it('saga events --follow stops on SIGINT', async () => {
    const live = await insertSaga(db, { status: 'running', events: [{ type: 'saga.started' }] })
    const child = spawnCli(['saga', 'events', live.saga.id, '--follow', ...args])
    const exited = exitOf(child)
    await waitForOutput(child, (o) => o.includes('saga.started'))
    child.kill('SIGINT')
    expect(await exited).toBe(0)
  })

  it('unknown ids exit 3, ambiguous prefixes exit 2 with the candidates, malformed ids exit 2', async () => {
    const missing = await cli('saga', 'show', 'ffff0000')
    expect(missing.code).toBe(3)
    expect(missing.stderr).toBe('error: no saga matches "ffff0000"\n')
    const ambiguous = await cli('saga', 'events', '0190aaaa-bbbb')
    expect(ambiguous.code).toBe(2)
    expect(ambiguous.stderr).toContain('ambiguous saga id "0190aaaa-bbbb": matches 0190aaaa-bbbb-7000-8000-000000000001, 0190aaaa-bbbb-7000-8000-000000000002')
    expect(ambiguous.stderr.trim().split('\n')).toHaveLength(1)
    const malformed = await cli('saga', 'show', 'nope', '--json')
    expect(malformed.code).toBe(2)
    expect(JSON.parse(malformed.stdout)).toMatchObject({ error: { code: 'usage', exitCode: 2 } })
  })

  it('intervention list and show', async () => {
    const list = await cli('intervention', 'list', '--json')
    expect(list.code, list.stderr).toBe(0)
    const doc = JSON.parse(list.stdout)
    expect(doc).toMatchObject({ next: null, items: [{ id: suspended.intervention!.id, sagaId: suspended.saga.id, definition: 'order-checkout', sagaStatus: 'suspended' }] })
    const human = await cli('intervention', 'list')
    expect(human.stdout).toContain(suspended.intervention!.id.slice(0, 8))
    expect(human.stdout).toContain('refund refused five times')
    const show = await cli('intervention', 'show', suspended.intervention!.id.slice(0, 30))
    expect(show.code, show.stderr).toBe(0)
    for (const text of [suspended.intervention!.id, suspended.saga.id, 'refund refused five times', 'process-payment', 'intervention resolve']) expect(show.stdout).toContain(text)
    const json = JSON.parse((await cli('intervention', 'show', suspended.intervention!.id, '--json')).stdout)
    expect(Object.keys(json).sort()).toEqual(['intervention', 'saga', 'steps'])
    expect((await cli('intervention', 'show', 'ffff0000')).code).toBe(3)
  })
})

describe('saga list on the embedded database', () => {
  it('reads what was written before it started', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sagactl-read-')), 'data')
    const db = await openDatabase({ url: `pglite:${dir}` })
    await migrate(db)
    const f = await insertSaga(db, { status: 'failed', reason: 'aborted by operator' })
    await db.close()
    const res = await runCli(['saga', 'list', '--json', '--status', 'failed', '--database-url', `pglite:${dir}`])
    expect(res.code, res.stderr).toBe(0)
    expect(JSON.parse(res.stdout)).toMatchObject({ items: [{ id: f.saga.id, status: 'failed', reason: 'aborted by operator' }], next: null })
  })
})
