import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChildProcess } from 'node:child_process'
import { openDatabase } from '../../src/db/open.js'
import { Engine } from '../../src/engine/engine.js'
import type { Database } from '../../src/db/types.js'
import { runCli, spawnCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'

interface Call {
  sagaId: string
  step: string
  phase: string
  attempt: number
  key: string
  pid: number
}

describe.runIf(pgUrl)('worker processes on the real server', () => {
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  let db: Database
  let dir: string
  let callLog: string
  const children: ChildProcess[] = []
  const cli = (args: string[]) => runCli([...args, '--database-url', s.url, '--schema', s.schema], { cwd: dir })
  // A short lease only where a takeover is the point: on a loaded machine a 1 s lease can lapse
  // between heartbeats, and a lapsed lease is taken over (and the call repeated) by design.
  const worker = (extra: string[] = [], lease = '10s') => {
    const child = spawnCli(['worker', '--defs', FIXTURE_STEPS, '--lease', lease, '--poll', '100ms', '--database-url', s.url, '--schema', s.schema, ...extra], {
      cwd: dir,
      env: { SAGA_CALL_LOG: callLog },
    })
    let err = ''
    child.stderr!.on('data', (d) => (err += d))
    Object.assign(child, { log: () => err })
    children.push(child)
    return child
  }
  const calls = (): Call[] =>
    existsSync(callLog) ? readFileSync(callLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Call) : []

  beforeAll(async () => {
    s = await freshPgSchema()
    dir = mkdtempSync(join(tmpdir(), 'sagactl-workers-'))
    callLog = join(dir, 'calls.ndjson')
    writeFileSync(join(dir, 'three.yaml'), scriptedDefinition('three', [{ name: 'reserve' }, { name: 'charge' }, { name: 'ship' }]))
    expect((await cli(['db', 'migrate'])).code).toBe(0)
    expect((await cli(['def', 'apply', join(dir, 'three.yaml')])).code).toBe(0)
    db = await openDatabase({ url: s.url, schema: s.schema })
  })
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    await db?.close()
    await s?.drop()
  })

  async function startSagas(n: number, script: Record<string, unknown>): Promise<string[]> {
    const ids: string[] = []
    const engine = new Engine(db)
    for (let i = 0; i < n; i++) ids.push((await engine.start('three', { script })).saga.id)
    return ids
  }

  async function allFinished(ids: string[]): Promise<boolean> {
    const res = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) AND status = 'completed'`, [ids])
    return res.rows[0]!.n === ids.length
  }

  it('a worker killed with SIGKILL mid-saga loses nothing: another finishes with the same idempotency keys', async () => {
    const ids = await startSagas(6, { charge: { action: ['slow:1500'] } })
    const a = worker(['--concurrency', '8'], '1s')
    // Kill A while it is inside the slow charge calls.
    await waitFor(async () => calls().filter((c) => c.step === 'charge' && ids.includes(c.sagaId)).length >= 3, 20_000)
    a.kill('SIGKILL')
    await new Promise((r) => a.once('exit', r))
    const b = worker(['--concurrency', '8'])
    await waitFor(() => allFinished(ids), 30_000)
    b.kill('SIGTERM')
    const code = await new Promise((r) => b.once('exit', r))
    expect(code).toBe(0)

    const mine = calls().filter((c) => ids.includes(c.sagaId))
    for (const id of ids) {
      const own = mine.filter((c) => c.sagaId === id)
      for (const step of ['reserve', 'charge', 'ship']) {
        const keys = new Set(own.filter((c) => c.step === step).map((c) => c.key))
        expect(keys).toEqual(new Set([`${id}:${step}:action`]))
      }
      expect(own.some((c) => c.phase === 'compensation')).toBe(false)
    }
    // The calls A was in the middle of were made again by B, under the same key.
    const repeated = mine.filter((c) => c.step === 'charge' && c.pid === b.pid)
    expect(repeated.length).toBeGreaterThan(0)
    const reclaimed = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'saga.reclaimed' AND saga_id = ANY($1::uuid[])`, [ids])
    expect(reclaimed.rows[0]!.n).toBeGreaterThan(0)
  })

  it('two workers never advance one saga at once: every step runs exactly once', async () => {
    const a = worker(['--concurrency', '16'])
    const b = worker(['--concurrency', '16'])
    await waitFor(async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM workers WHERE pid = ANY($1::int[]) AND stopped_at IS NULL`, [[a.pid, b.pid]])).rows[0]!.n === 2)
    const ids = await startSagas(60, { reserve: { action: ['slow:30'] } })
    await waitFor(() => allFinished(ids), 30_000)
    a.kill('SIGTERM')
    b.kill('SIGTERM')
    await Promise.all([new Promise((r) => a.once('exit', r)), new Promise((r) => b.once('exit', r))])
    const mine = calls().filter((c) => ids.includes(c.sagaId))
    const reclaimed = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'saga.reclaimed' AND saga_id = ANY($1::uuid[])`, [ids])
    expect(reclaimed.rows[0]!.n).toBe(0)
    expect(mine).toHaveLength(ids.length * 3)
    const perStep = new Map<string, number>()
    for (const c of mine) perStep.set(`${c.sagaId}:${c.step}`, (perStep.get(`${c.sagaId}:${c.step}`) ?? 0) + 1)
    expect([...perStep.values()].every((n) => n === 1)).toBe(true)
    expect(new Set(mine.map((c) => c.pid)).size).toBe(2)
    const workers = await db.query<{ stopped: boolean }>(`SELECT stopped_at IS NOT NULL AS stopped FROM workers WHERE pid = ANY($1::int[])`, [[a.pid, b.pid]])
    expect(workers.rows.map((r) => r.stopped)).toEqual([true, true])
  })

  it('SIGTERM drains: the call in flight finishes and the saga is handed back, not lost', async () => {
    const ids = await startSagas(2, { reserve: { action: ['slow:800'] } })
    const a = worker()
    await waitFor(async () => calls().filter((c) => c.step === 'reserve' && ids.includes(c.sagaId)).length >= 2, 20_000)
    a.kill('SIGTERM')
    expect(await new Promise((r) => a.once('exit', r))).toBe(0)
    const held = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) AND lease_owner IS NOT NULL`, [ids])
    expect(held.rows[0]!.n).toBe(0)
    const reserved = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM steps WHERE saga_id = ANY($1::uuid[]) AND name = 'reserve' AND status = 'succeeded'`, [ids])
    expect(reserved.rows[0]!.n).toBe(2)
    // Nothing is shown as running that no one runs: the next step was not started.
    const running = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM steps WHERE saga_id = ANY($1::uuid[]) AND status = 'running'`, [ids])
    expect(running.rows[0]!.n).toBe(0)
    const b = worker()
    await waitFor(() => allFinished(ids), 20_000)
    b.kill('SIGTERM')
    await new Promise((r) => b.once('exit', r))
    expect(calls().filter((c) => c.step === 'reserve' && ids.includes(c.sagaId))).toHaveLength(2)
  })
})
