import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'

const EXAMPLE = fileURLToPath(new URL('../../examples/clients/psql/start-in-transaction.sql', import.meta.url))

interface Psql {
  code: number | null
  stdout: string
  stderr: string
}

/** psql as a service's own session would use it: a separate client, its own search_path. */
function psql(args: string[], searchPath: string): Promise<Psql> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', [pgUrl!, '-X', '-q', '-At', ...args], { env: { ...process.env, PGOPTIONS: `-c search_path=${searchPath}` } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe.runIf(pgUrl)('start_saga from psql, in the business transaction', () => {
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  let app: string
  let db: pg.Client
  let worker: ChildProcess | undefined
  const cli = (args: string[], cwd: string) => runCli([...args, '--database-url', s.url, '--schema', s.schema], { cwd })
  const run = (vars: Record<string, string>) =>
    psql([...Object.entries({ schema: s.schema, definition: 'checkout', ...vars }).flatMap(([k, v]) => ['-v', `${k}=${v}`]), '-f', EXAMPLE], app)

  beforeAll(async () => {
    s = await freshPgSchema()
    app = `${s.schema}_app`
    const dir = mkdtempSync(join(tmpdir(), 'sagactl-psql-'))
    writeFileSync(join(dir, 'checkout.yaml'), scriptedDefinition('checkout', [{ name: 'reserve' }, { name: 'charge' }]))
    expect((await cli(['db', 'migrate'], dir)).code).toBe(0)
    expect((await cli(['def', 'apply', join(dir, 'checkout.yaml')], dir)).code).toBe(0)
    db = new pg.Client({ connectionString: s.url })
    await db.connect()
    await db.query(`CREATE SCHEMA ${app}; CREATE TABLE ${app}.orders (id int PRIMARY KEY, customer_id text NOT NULL, amount numeric NOT NULL)`)
  }, 120_000)
  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r))
      worker.kill('SIGTERM')
      await exited
    }
    await db?.query(`DROP SCHEMA IF EXISTS ${app} CASCADE`)
    await db?.end()
    await s.drop()
  })

  it('ROLLBACK leaves neither the order nor the saga', async () => {
    const res = await run({ order_id: '1', outcome: 'ROLLBACK' })
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    // The id start_saga returned inside the transaction, then an empty status: no such saga.
    expect(res.stdout).toMatch(/^saga [0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f-]+\n\n$/)
    expect((await db.query(`SELECT count(*)::int AS n FROM ${app}.orders`)).rows[0]).toEqual({ n: 0 })
    expect((await db.query(`SELECT count(*)::int AS n FROM ${s.schema}.sagas`)).rows[0]).toEqual({ n: 0 })
    expect((await db.query(`SELECT count(*)::int AS n FROM ${s.schema}.events`)).rows[0]).toEqual({ n: 0 })
  })

  it('COMMIT keeps both, and a worker process runs the saga to completion', async () => {
    worker = spawnCli(['worker', '--defs', FIXTURE_STEPS, '--database-url', s.url, '--schema', s.schema])
    const res = await run({ order_id: '2' })
    expect(res.code).toBe(0)
    const id = res.stdout.trim().split('\n')[0]!.replace(/^saga /, '')
    expect((await db.query(`SELECT id FROM ${app}.orders`)).rows).toEqual([{ id: 2 }])
    const status = await waitFor(async () => {
      const r = await psql(['-c', `SELECT ${s.schema}.saga_status('${id}')`], app)
      return r.stdout.trim() === 'completed' ? r.stdout.trim() : null
    }, 30_000, 200)
    expect(status).toBe('completed')
  })

  it('an unknown definition fails the transaction with SQLSTATE SG001', async () => {
    const res = await run({ order_id: '3', definition: 'no-such' })
    expect(res.code).not.toBe(0)
    expect(res.stderr).toMatch(/ERROR: {2}SG001: definition "no-such" not found/)
    expect(res.stderr).toMatch(/HINT: {2}apply it first/)
    expect((await db.query(`SELECT count(*)::int AS n FROM ${app}.orders WHERE id = 3`)).rows[0]).toEqual({ n: 0 })
  })
})
