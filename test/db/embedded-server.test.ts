import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EmbeddedServer } from '../../src/db/embedded/server.js'

// One PGlite session served to several pg clients must behave like a server: each
// client's statements, transactions, search_path and notifications stay its own.
describe('EmbeddedServer', () => {
  let dir: string
  let db: PGlite
  let server: EmbeddedServer
  const clients: pg.Client[] = []

  async function client(schema = 'public'): Promise<pg.Client> {
    const c = new pg.Client({ host: dir, port: 5432, user: 'postgres', database: 'postgres', options: `-c search_path=${schema}` })
    c.on('error', () => {})
    await c.connect()
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sagactl-srv-'))
    db = await PGlite.create()
    await db.exec('CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.t (v int); CREATE TABLE b.t (v int); CREATE TABLE public.n (v int)')
    server = new EmbeddedServer(db)
    await server.listen({ path: join(dir, '.s.PGSQL.5432') })
  })

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})))
    await server.close()
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('runs concurrent parameterised and prepared queries of many clients without mixing them', async () => {
    const cs = await Promise.all([client(), client(), client(), client()])
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        cs[i % cs.length]!.query({ name: i % 2 ? 'same-name' : undefined, text: 'SELECT $1::int + 1 AS v', values: [i] }),
      ),
    )
    expect(results.map((r) => r.rows[0].v)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
  })

  it('keeps a transaction to its client: others wait, a rollback undoes only its own work', async () => {
    const [x, y] = await Promise.all([client(), client()])
    await x.query('BEGIN')
    await x.query('INSERT INTO n VALUES (1)')
    const other = y.query('INSERT INTO n VALUES (2)')
    await new Promise((r) => setTimeout(r, 50))
    await x.query('ROLLBACK')
    await other
    const { rows } = await y.query('SELECT v FROM n ORDER BY v')
    expect(rows).toEqual([{ v: 2 }])
  })

  it('gives each client the search_path it connected with', async () => {
    const [ca, cb] = await Promise.all([client('a'), client('b')])
    await Promise.all([ca.query('INSERT INTO t VALUES (1)'), cb.query('INSERT INTO t VALUES (2)'), ca.query('INSERT INTO t VALUES (3)')])
    expect((await ca.query('SELECT sum(v)::int AS s FROM t')).rows[0].s).toBe(4)
    expect((await cb.query('SELECT sum(v)::int AS s FROM t')).rows[0].s).toBe(2)
  })

  it('delivers a NOTIFY committed by one client to every client listening, and stops after UNLISTEN', async () => {
    const [l1, l2, sender] = await Promise.all([client(), client(), client()])
    const got: string[] = []
    l1.on('notification', (n) => got.push(`1:${n.payload}`))
    l2.on('notification', (n) => got.push(`2:${n.payload}`))
    await l1.query('LISTEN "ch_x"')
    await l2.query('LISTEN ch_x')
    await sender.query("SELECT pg_notify('ch_x', 'hello')")
    await expect.poll(() => got.sort()).toEqual(['1:hello', '2:hello'])
    await l1.query('UNLISTEN ch_x')
    await sender.query("NOTIFY ch_x, 'again'")
    await expect.poll(() => got.filter((g) => g.endsWith('again'))).toEqual(['2:again'])
  })

  it('rolls back the transaction of a client that disconnects in the middle of it', async () => {
    const [x, y] = await Promise.all([client(), client()])
    await x.query('BEGIN')
    await x.query('INSERT INTO n VALUES (99)')
    ;(x as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
    const { rows } = await y.query('SELECT count(*)::int AS c FROM n WHERE v = 99')
    expect(rows[0].c).toBe(0)
  })
})
