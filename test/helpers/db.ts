import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, inject, type RunnerTask } from 'vitest'
import pg from 'pg'
import { migrate } from '../../src/db/migrator.js'
import { openDatabase } from '../../src/db/open.js'
import type { Database } from '../../src/db/types.js'

export type DriverKind = 'pg' | 'pglite' | 'served'

/** The real server's URL, or null when it is unreachable (its tests are skipped). */
export const pgUrl: string | null = inject('pgUrl')

/** Drivers the current run can test: PGlite always, the real server when it is up. */
export const drivers: DriverKind[] = [...(pgUrl ? (['pg', 'pglite'] as const) : (['pglite'] as const)), ...(process.env.SAGACTL_TEST_SERVED ? (['served'] as const) : [])]

export function uniqueSchema(prefix = 't'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`
}

function failed(task: RunnerTask): boolean {
  if (task.result?.state === 'fail') return true
  return 'tasks' in task && task.tasks.some(failed)
}

export interface TestDb {
  db: Database
  url: string
  schema: string
}

/**
 * Gives the enclosing suite its own migrated schema: on the real server a fresh schema
 * (dropped on success, kept on failure for inspection), on PGlite a fresh in-memory database.
 */
export function useTestDatabase(kind: DriverKind, opts: { migrated?: boolean } = {}): TestDb {
  const handle = {} as TestDb
  beforeAll(async () => {
    handle.schema = uniqueSchema()
    handle.url = kind === 'pg' ? pgUrl! : 'pglite:memory'
    handle.db = kind === 'served' ? await servedMemory(handle.schema) : await openDatabase({ url: handle.url, schema: handle.schema })
    if (opts.migrated !== false) await migrate(handle.db)
  })
  afterAll(async ({}, suite) => {
    const keep = failed(suite as RunnerTask)
    if (kind === 'pg' && !keep) await handle.db.exec(`DROP SCHEMA IF EXISTS "${handle.schema}" CASCADE`)
    if (keep && kind === 'pg') process.stderr.write(`kept schema ${handle.schema} for inspection\n`)
    await handle.db.close()
  })
  return handle
}

/** A fresh schema on the real server for process-level tests (CLI, workers); dropped by the returned function. */
export async function freshPgSchema(): Promise<{ url: string; schema: string; drop: () => Promise<void> }> {
  const schema = uniqueSchema('p')
  return {
    url: pgUrl!,
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: pgUrl! })
      await client.connect()
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await client.end()
    },
  }
}

export interface CliSchema {
  db: Database
  /** `--database-url … --schema …` for the CLI under test. */
  args: string[]
  url: string
  schema: string
}

/**
 * Process-level tests against a fresh migrated schema on the real server: the handle is
 * filled in beforeAll, the schema dropped in afterAll.
 */
export function useCliSchema(): CliSchema {
  const handle = {} as CliSchema
  let drop: (() => Promise<void>) | undefined
  beforeAll(async () => {
    const s = await freshPgSchema()
    drop = s.drop
    Object.assign(handle, { url: s.url, schema: s.schema, args: ['--database-url', s.url, '--schema', s.schema] })
    handle.db = await openDatabase({ url: s.url, schema: s.schema })
    await migrate(handle.db)
  })
  afterAll(async () => {
    await handle.db?.close()
    await drop?.()
  })
  return handle
}

/**
 * PGlite behind the embedded server, reached with the pg driver as another process would
 * (SAGACTL_TEST_SERVED=1 adds it to `drivers`: every engine test then runs through it).
 */
async function servedMemory(schema: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite')
  const { EmbeddedServer } = await import('../../src/db/embedded/server.js')
  const { PgDatabase } = await import('../../src/db/pg-driver.js')
  const { mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'sagactl-served-'))
  const pglite = await PGlite.create()
  const server = new EmbeddedServer(pglite)
  await server.listen({ path: join(dir, '.s.PGSQL.5432') })
  const db = new PgDatabase({ url: `postgresql://postgres@/postgres?host=${encodeURIComponent(dir)}`, schema })
  const close = db.close.bind(db)
  db.close = async () => {
    await close()
    await server.close()
    await pglite.close()
  }
  return db
}
