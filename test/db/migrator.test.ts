import { cpSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SchemaNotReadyError } from '../../src/errors.js'
import { assertSchemaReady, loadMigrations, migrate, migrationStatus, MIGRATIONS_DIR, splitStatements } from '../../src/db/migrator.js'
import { drivers, useTestDatabase } from '../helpers/db.js'

const TABLES = ['api_tokens', 'audit_log', 'definitions', 'deleted_keys', 'events', 'interventions', 'participant_events', 'participant_stats', 'participants', 'sagas', 'schema_migrations', 'steps', 'workers']

describe.each(drivers)('migrator on %s', (kind) => {
  const t = useTestDatabase(kind, { migrated: false })

  it('reports every migration pending and creates nothing on a dry run', async () => {
    const result = await migrate(t.db, { dryRun: true })
    expect(result.dryRun).toBe(true)
    expect(result.applied).toEqual([])
    expect(result.pending.map((m) => m.version)).toEqual(loadMigrations().map((m) => m.version))
    const schemas = await t.db.query(`SELECT 1 FROM information_schema.schemata WHERE schema_name = $1`, [t.schema])
    expect(schemas.rows).toHaveLength(0)
    await expect(assertSchemaReady(t.db)).rejects.toThrow(/is not migrated.*/)
  })

  it('applies the schema once; a second run is a no-op', async () => {
    const first = await migrate(t.db)
    expect(first.applied.map((m) => m.name)).toContain('init')
    const tables = await t.db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [t.schema],
    )
    expect(tables.rows.map((r) => r.table_name)).toEqual(TABLES)
    const second = await migrate(t.db)
    expect(second.applied).toEqual([])
    expect((await migrationStatus(t.db)).every((s) => s.state === 'applied')).toBe(true)
    await expect(assertSchemaReady(t.db)).resolves.toBeUndefined()
  })

  it.runIf(kind === 'pg')('an up-to-date schema is not locked: a migrate that finds nothing to do does not wait for one in progress', async () => {
    await migrate(t.db)
    const outcome = await t.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('sagactl.migrate'), hashtext($1))`, [t.schema])
      return Promise.race([migrate(t.db).then((r) => r.applied.length), new Promise((r) => setTimeout(() => r('waited for the lock'), 5_000))])
    })
    expect(outcome).toBe(0)
  })

  it('vacuums the hot tables early: after 2 % of sagas and steps are dead, not the default fifth', async () => {
    await migrate(t.db)
    const res = await t.db.query<{ relname: string; reloptions: string[] }>(
      `SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname IN ('sagas', 'steps', 'events') ORDER BY c.relname`,
      [t.schema],
    )
    const factor = Object.fromEntries(res.rows.map((r) => [r.relname, r.reloptions.find((o) => o.startsWith('autovacuum_vacuum_scale_factor='))]))
    expect(factor).toEqual({ events: 'autovacuum_vacuum_scale_factor=0.05', sagas: 'autovacuum_vacuum_scale_factor=0.02', steps: 'autovacuum_vacuum_scale_factor=0.02' })
  })

  it('keeps saga_id in the key of every per-saga table', async () => {
    const keys = await t.db.query<{ table_name: string; cols: string }>(
      `SELECT tc.table_name, string_agg(kcu.column_name, ',' ORDER BY kcu.ordinal_position) AS cols
         FROM information_schema.table_constraints tc
         JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
        WHERE tc.table_schema = $1 AND tc.constraint_type = 'PRIMARY KEY'
        GROUP BY tc.table_name`,
      [t.schema],
    )
    const pk = Object.fromEntries(keys.rows.map((r) => [r.table_name, r.cols.split(',')]))
    expect(pk.sagas).toEqual(['id'])
    for (const table of ['steps', 'events', 'interventions']) expect(pk[table]?.[0]).toBe('saga_id')
  })

  it('refuses an applied migration whose file changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagactl-mig-'))
    cpSync(MIGRATIONS_DIR, dir, { recursive: true })
    const file = join(dir, '0001_init.sql')
    writeFileSync(file, `${loadMigrations()[0]!.sql}\n-- edited after it was applied\n`)
    const edited = loadMigrations(dir)
    await expect(migrate(t.db, { migrations: edited })).rejects.toThrow(/0001_init was changed after it was applied/)
    expect((await migrationStatus(t.db, edited))[0]!.state).toBe('drift')
    await expect(assertSchemaReady(t.db, edited)).rejects.toBeInstanceOf(SchemaNotReadyError)
  })

  it('refuses a database newer than the code', async () => {
    await t.db.query(`INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')`)
    try {
      await expect(migrate(t.db)).rejects.toThrow(/at migration 9999, newer than this sagactl knows/)
      await expect(assertSchemaReady(t.db)).rejects.toThrow(/newer than this sagactl/)
      expect((await migrationStatus(t.db)).at(-1)).toMatchObject({ version: 9999, state: 'unknown' })
    } finally {
      await t.db.query(`DELETE FROM schema_migrations WHERE version = 9999`)
    }
  })

  it('applies a new migration after the first, and only that one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagactl-mig-'))
    cpSync(MIGRATIONS_DIR, dir, { recursive: true })
    writeFileSync(join(dir, '9000_extra.sql'), `CREATE TABLE {{schema}}.extra (id int primary key);\nINSERT INTO {{schema}}.extra VALUES (1);`)
    const more = loadMigrations(dir)
    await expect(assertSchemaReady(t.db, more)).rejects.toThrow(/1 pending migration/)
    const result = await migrate(t.db, { migrations: more })
    expect(result.applied.map((m) => m.version)).toEqual([9000])
    expect((await t.db.query(`SELECT count(*)::int AS n FROM extra`)).rows[0]).toEqual({ n: 1 })
  })

  it('rolls back a failing migration completely', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagactl-mig-'))
    cpSync(MIGRATIONS_DIR, dir, { recursive: true })
    writeFileSync(join(dir, '9000_extra.sql'), `CREATE TABLE {{schema}}.extra (id int primary key);\nINSERT INTO {{schema}}.extra VALUES (1);`)
    writeFileSync(join(dir, '9001_broken.sql'), `CREATE TABLE {{schema}}.half (id int);\nSELECT * FROM {{schema}}.does_not_exist;`)
    await expect(migrate(t.db, { migrations: loadMigrations(dir) })).rejects.toThrow(/does_not_exist/)
    const half = await t.db.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [`"${t.schema}".half`])
    expect(half.rows[0]!.t).toBeNull()
    expect((await migrationStatus(t.db)).some((s) => s.version === 9001)).toBe(false)
  })
})

describe('splitStatements', () => {
  it('splits on semicolons outside quotes, dollar bodies and comments', () => {
    const sql = `CREATE TABLE a (x text DEFAULT 'a;b'); -- a comment; with semicolon\nDO $$ BEGIN PERFORM 1; END $$;\nSELECT 1`
    expect(splitStatements(sql)).toEqual([`CREATE TABLE a (x text DEFAULT 'a;b')`, `DO $$ BEGIN PERFORM 1; END $$`, 'SELECT 1'])
  })
})
