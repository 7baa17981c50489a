import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { Worker } from '../../src/engine/worker.js'
import { workChannelFor } from '../../src/db/types.js'
import { drivers, pgUrl, useTestDatabase } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'

const sqlState = (err: unknown) => (err as { code?: string }).code

/** The SQL API a service calls in its own transaction: start_saga and saga_status. */
describe.each(drivers)('SQL start_saga and saga_status on %s', (kind) => {
  const t = useTestDatabase(kind)
  let engine: Engine

  beforeAll(async () => {
    engine = new Engine(t.db)
    await applyYaml(t.db, scriptedDefinition('pay', [{ name: 'charge' }], 'timeout: 90s'))
    await applyYaml(t.db, scriptedDefinition('pay', [{ name: 'charge' }, { name: 'ship' }], 'timeout: 90s'))
    await applyYaml(t.db, scriptedDefinition('untimed', [{ name: 'charge' }]))
  })

  const start = async (args: string, params: unknown[] = []) =>
    (await t.db.query<{ id: string }>(`SELECT start_saga(${args}) AS id`, params)).rows[0]!.id

  it('writes what saga start writes: a pending UUIDv7 saga on the latest version, its deadline, a saga.created event', async () => {
    const before = Date.now()
    const id = await start(`'pay', '{"order": 7}'::jsonb`)
    const viaEngine = (await engine.start('pay', { order: 7 })).saga
    const sql = await engine.get(id)
    const same = (s: typeof sql) => ({ definition: s.definition, version: s.version, status: s.status, input: s.input, revision: s.revision, currentStep: s.currentStep, leaseOwner: s.leaseOwner })
    expect(same(sql)).toEqual(same(viaEngine))
    expect(sql).toMatchObject({ definition: 'pay', version: 2, status: 'pending' })
    // Version nibble 7, RFC variant, and the time the id carries is the time of the start.
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const idMs = parseInt(id.replace(/-/g, '').slice(0, 12), 16)
    expect(idMs).toBeGreaterThanOrEqual(before - 1000)
    expect(idMs).toBeLessThanOrEqual(Date.now() + 1000)
    const row = await t.db.query<{ deadline_ms: number; due: boolean }>(
      `SELECT (extract(epoch FROM deadline_at - created_at) * 1000)::int AS deadline_ms, due_at IS NOT NULL AS due FROM sagas WHERE id = $1`,
      [id],
    )
    expect(row.rows[0]).toEqual({ deadline_ms: 90_000, due: true })
    const events = await t.db.query<{ type: string; data: unknown }>(`SELECT type, data FROM events WHERE saga_id = $1`, [id])
    expect(events.rows).toEqual([{ type: 'saga.created', data: { key: null } }])
    const untimed = await start(`'untimed'`)
    expect((await engine.get(untimed)).input).toEqual({})
    expect((await t.db.query(`SELECT deadline_at FROM sagas WHERE id = $1`, [untimed])).rows[0]).toEqual({ deadline_at: null })
  })

  it('starts the given version, and names unknown definitions and versions with their own SQLSTATE', async () => {
    const id = await start(`'pay', '{}'::jsonb, NULL, 1`)
    expect((await engine.get(id)).version).toBe(1)
    const named = await start(`definition => 'pay', version => 1`)
    expect((await engine.get(named)).version).toBe(1)
    await expect(start(`'nope'`)).rejects.toSatisfy((e) => sqlState(e) === 'SG001' && /definition "nope" not found/.test((e as Error).message))
    await expect(start(`'nope', '{}', NULL, 3`)).rejects.toSatisfy((e) => sqlState(e) === 'SG001')
    await expect(start(`'pay', '{}', NULL, 9`)).rejects.toSatisfy(
      (e) => sqlState(e) === 'SG002' && (e as Error).message === 'definition "pay" has no version 9 (latest is 2)',
    )
  })

  it('the same key returns the saga it started before; a key of another definition is SG003', async () => {
    const first = await start(`'pay', $1::jsonb, $2`, [JSON.stringify({ n: 1 }), 'order-1'])
    const again = await start(`'pay', $1::jsonb, $2`, [JSON.stringify({ n: 2 }), 'order-1'])
    expect(again).toBe(first)
    expect((await engine.get(first)).input).toEqual({ n: 1 })
    // The engine's start sees the same key: one idempotency space for SQL, CLI and HTTP.
    expect((await engine.start('pay', {}, { key: 'order-1' })).saga.id).toBe(first)
    const events = await t.db.query(`SELECT data FROM events WHERE saga_id = $1`, [first])
    expect(events.rows).toEqual([{ data: { key: 'order-1' } }])
    await expect(start(`'untimed', '{}', 'order-1'`)).rejects.toSatisfy((e) => sqlState(e) === 'SG003' && (e as Error).message.includes(first))
  })

  it('saga_status returns the status, NULL for an unknown id', async () => {
    const id = await start(`'untimed'`)
    const status = async (x: string) => (await t.db.query<{ s: string | null }>(`SELECT saga_status($1) AS s`, [x])).rows[0]!.s
    expect(await status(id)).toBe('pending')
    expect(await status('00000000-0000-7000-8000-000000000000')).toBeNull()
  })

  it('in the caller transaction: a rollback leaves nothing and sends nothing, a commit notifies the workers', async () => {
    const notices: string[] = []
    const off = await t.db.listen((p) => notices.push(p))
    try {
      let rolledBack = ''
      await expect(
        t.db.transaction(async (tx) => {
          rolledBack = (await tx.query<{ id: string }>(`SELECT start_saga('untimed', '{}', 'rolled-back') AS id`)).rows[0]!.id
          throw new Error('the business write failed')
        }),
      ).rejects.toThrow('the business write failed')
      expect((await t.db.query(`SELECT 1 FROM sagas WHERE id = $1 OR idempotency_key = 'rolled-back'`, [rolledBack])).rows).toEqual([])
      expect((await t.db.query(`SELECT 1 FROM events WHERE saga_id = $1`, [rolledBack])).rows).toEqual([])
      const committed = await t.db.transaction(async (tx) => (await tx.query<{ id: string }>(`SELECT start_saga('untimed') AS id`)).rows[0]!.id)
      // Notifications arrive in commit order: had the rolled-back start sent one, it would come first.
      const first = await waitFor(async () => notices[0])
      expect(JSON.parse(first)).toEqual({ count: 1, changes: [{ id: committed, status: 'pending', event: 'saga.created', step: null }] })
    } finally {
      await off()
    }
  })

  it('a worker woken by the commit runs the saga', async () => {
    const woke: string[] = []
    const off = await t.db.listen((p) => woke.push(p), workChannelFor(t.schema))
    // A long poll: the worker finds the saga because the NOTIFY woke it, not by polling.
    const worker = new Worker(t.db, { concurrency: 2, defsDir: FIXTURE_STEPS, leaseMs: 5_000, pollMs: 60_000 })
    await worker.start()
    try {
      const id = await start(`'pay', '{}'::jsonb, NULL, 1`)
      const done = await waitFor(async () => ((await engine.get(id)).status === 'completed' ? engine.get(id) : null))
      expect(done.status).toBe('completed')
      expect(woke.length).toBeGreaterThan(0)
    } finally {
      await worker.stop()
      await off()
    }
  })
})

describe.runIf(pgUrl)('SQL API from other sessions on the real server', () => {
  const t = useTestDatabase('pg')
  const role = `${Math.random().toString(36).slice(2, 8)}_starter`.replace(/^[0-9]/, 'r')
  const clients: pg.Client[] = []
  const connect = async () => {
    const c = new pg.Client({ connectionString: pgUrl!, options: `-c search_path=${t.schema}` })
    await c.connect()
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    await applyYaml(t.db, scriptedDefinition('ship', [{ name: 'pack' }]))
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end()))
    await t.db.exec(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`).catch(() => {})
  })

  it('a start that leaves the wake-up to another (the notify lock is held) is still run within the poll interval', async () => {
    const holder = await connect()
    await holder.query('BEGIN')
    await holder.query(`SELECT pg_advisory_xact_lock(hashtext('sagactl.notify'), hashtext($1))`, [t.schema])
    const woke: string[] = []
    // The driver's own liveness probes aside, nothing may arrive on the work channel.
    const off = await t.db.listen((p) => p.startsWith('sagactl-probe:') || woke.push(p), workChannelFor(t.schema))
    const worker = new Worker(t.db, { concurrency: 2, defsDir: FIXTURE_STEPS, leaseMs: 5_000, pollMs: 200 })
    await worker.start()
    try {
      const viaSql = (await t.db.query<{ id: string }>(`SELECT start_saga('ship') AS id`)).rows[0]!.id
      const viaEngine = (await new Engine(t.db).start('ship', {})).saga.id
      for (const id of [viaSql, viaEngine]) await waitFor(async () => (await new Engine(t.db).get(id)).status === 'completed')
      // Neither start notified: the worker found both by polling.
      expect(woke).toEqual([])
    } finally {
      await worker.stop()
      await off()
      await holder.query('ROLLBACK')
    }
  })

  it('concurrent callers with one key, each in its own transaction, get one saga', async () => {
    const sessions = await Promise.all(Array.from({ length: 6 }, connect))
    await Promise.all(sessions.map((c) => c.query('BEGIN')))
    const ids = await Promise.all(
      sessions.map(async (c, i) => {
        const res = await c.query<{ id: string }>(`SELECT ${t.schema}.start_saga('ship', $1::jsonb, 'race-1') AS id`, [JSON.stringify({ caller: i })])
        // Each holds its transaction open a while, so the others queue on the key.
        await new Promise((r) => setTimeout(r, 20))
        await c.query('COMMIT')
        return res.rows[0]!.id
      }),
    )
    expect(new Set(ids).size).toBe(1)
    const rows = await t.db.query(`SELECT id FROM sagas WHERE idempotency_key = 'race-1'`)
    expect(rows.rows).toEqual([{ id: ids[0] }])
    expect((await t.db.query(`SELECT count(*)::int AS n FROM events WHERE saga_id = $1`, [ids[0]])).rows[0]).toEqual({ n: 1 })
  })

  it('a role with EXECUTE on start_saga alone can start sagas and read nothing else', async () => {
    const s = t.schema
    await t.db.exec(`CREATE ROLE ${role} NOLOGIN; GRANT USAGE ON SCHEMA ${s} TO ${role}; GRANT EXECUTE ON FUNCTION ${s}.start_saga(text, jsonb, text, integer) TO ${role}`)
    const c = await connect()
    await c.query(`SET ROLE ${role}`)
    const started = await c.query<{ id: string }>(`SELECT ${s}.start_saga('ship', '{"x": 1}') AS id`)
    expect(started.rows[0]!.id).toMatch(/^[0-9a-f-]{36}$/)
    await expect(c.query(`SELECT * FROM ${s}.sagas`)).rejects.toSatisfy((e) => sqlState(e) === '42501')
    await expect(c.query(`INSERT INTO ${s}.sagas (id) VALUES (gen_random_uuid())`)).rejects.toSatisfy((e) => sqlState(e) === '42501')
    await expect(c.query(`SELECT ${s}.saga_status($1)`, [started.rows[0]!.id])).rejects.toSatisfy((e) => sqlState(e) === '42501')
    // Whatever the caller's search_path, the function finds its own tables (and only them).
    await c.query(`SET search_path = pg_temp, public`)
    expect((await c.query(`SELECT ${s}.start_saga('ship') AS id`)).rows[0].id).toBeTruthy()
    await c.query('RESET ROLE')
    const count = await t.db.query(`SELECT count(*)::int AS n FROM sagas WHERE definition = 'ship' AND input = '{"x": 1}'`)
    expect(count.rows[0]).toEqual({ n: 1 })
  })
})
