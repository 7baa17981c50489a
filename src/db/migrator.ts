import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SchemaNotReadyError } from '../errors.js'
import { readOnlyStandby } from './errors.js'
import { quoteIdent, type Database, type Queryable } from './types.js'

/** Migrations ship with the package: `sql/NNNN_name.sql`, the schema written as `{{schema}}`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/', import.meta.url))

export interface Migration {
  version: number
  name: string
  checksum: string
  sql: string
}

export type MigrationState = 'applied' | 'pending' | 'drift' | 'unknown'

export interface MigrationStatus {
  version: number
  name: string
  state: MigrationState
  checksum: string
  appliedAt: Date | null
}

interface AppliedRow {
  version: number
  name: string
  checksum: string
  applied_at: Date
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(`${dir}/${file}`, 'utf8')
      return {
        version: Number(file.slice(0, 4)),
        name: file.slice(5, -4),
        checksum: createHash('sha256').update(sql).digest('hex'),
        sql,
      }
    })
}

function lockKey(schema: string): string {
  // Both arguments fit an int4; hashtext is stable across PostgreSQL versions.
  return `hashtext('sagactl.migrate'), hashtext(${literal(schema)})`
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`
}

async function readApplied(db: Queryable, schema: string): Promise<AppliedRow[] | undefined> {
  return (await readState(db, schema)).applied
}

/** The migrations recorded in `schema` (undefined before the first), and whether the server is a standby: one round trip when there are none. */
async function readState(db: Queryable, schema: string): Promise<{ applied: AppliedRow[] | undefined; standby: boolean }> {
  const state = await db.query<{ t: string | null; standby: boolean }>(`SELECT to_regclass($1) AS t, pg_is_in_recovery() AS standby`, [`${quoteIdent(schema)}.schema_migrations`])
  const standby = state.rows[0]?.standby === true
  if (!state.rows[0]?.t) return { applied: undefined, standby }
  const res = await db.query<AppliedRow>(`SELECT version, name, checksum, applied_at FROM ${quoteIdent(schema)}.schema_migrations ORDER BY version`)
  return { applied: res.rows, standby }
}

export function compareMigrations(code: Migration[], applied: AppliedRow[]): MigrationStatus[] {
  const byVersion = new Map(applied.map((r) => [r.version, r]))
  const rows: MigrationStatus[] = code.map((m) => {
    const row = byVersion.get(m.version)
    const state: MigrationState = !row ? 'pending' : row.checksum === m.checksum ? 'applied' : 'drift'
    return { version: m.version, name: m.name, state, checksum: m.checksum, appliedAt: row?.applied_at ?? null }
  })
  const known = new Set(code.map((m) => m.version))
  for (const row of applied) {
    if (!known.has(row.version)) rows.push({ version: row.version, name: row.name, state: 'unknown', checksum: row.checksum, appliedAt: row.applied_at })
  }
  return rows.sort((a, b) => a.version - b.version)
}

/** Refuses a database the code cannot safely touch: an applied migration edited, or one the code does not know. */
function assertNoDrift(schema: string, status: MigrationStatus[]): void {
  const drift = status.find((s) => s.state === 'drift')
  if (drift) {
    throw new SchemaNotReadyError(
      `migration ${String(drift.version).padStart(4, '0')}_${drift.name} was changed after it was applied to schema "${schema}" (checksum differs)`,
      'restore the original file; applied migrations are never edited, add a new one instead',
    )
  }
  const unknown = status.filter((s) => s.state === 'unknown')
  if (unknown.length > 0) {
    throw new SchemaNotReadyError(
      `schema "${schema}" is at migration ${Math.max(...unknown.map((u) => u.version))}, newer than this sagactl knows`,
      'upgrade sagactl to the version that migrated this database',
    )
  }
}

export async function migrationStatus(db: Database, migrations = loadMigrations()): Promise<MigrationStatus[]> {
  return compareMigrations(migrations, (await readApplied(db, db.schema)) ?? [])
}

export interface MigrateResult {
  applied: MigrationStatus[]
  pending: MigrationStatus[]
  dryRun: boolean
}

/**
 * Applies pending migrations, each in its own transaction, each under the schema's
 * advisory lock: a concurrent migrate waits, then finds the work done and skips it.
 */
export async function migrate(db: Database, opts: { dryRun?: boolean; migrations?: Migration[] } = {}): Promise<MigrateResult> {
  const migrations = opts.migrations ?? loadMigrations()
  const schema = quoteIdent(db.schema)
  const { applied: recorded, standby } = await readState(db, db.schema)
  const before = compareMigrations(migrations, recorded ?? [])
  assertNoDrift(db.schema, before)
  const pending = before.filter((s) => s.state === 'pending')
  if (opts.dryRun) return { applied: [], pending, dryRun: true }
  // Up to date: no lock and no DDL, so a command that migrates on start costs one read.
  // A standby is refused as any write to it is, even with nothing to do.
  if (recorded && pending.length === 0) {
    if (standby) throw readOnlyStandby(`${db.displayUrl} is in recovery`)
    return { applied: [], pending, dryRun: false }
  }

  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${lockKey(db.schema)})`)
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    await tx.query(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
  })

  const applied: MigrationStatus[] = []
  for (const m of migrations) {
    if (!pending.some((p) => p.version === m.version)) continue
    const did = await db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${lockKey(db.schema)})`)
      const now = compareMigrations(migrations, (await readApplied(tx, db.schema)) ?? [])
      assertNoDrift(db.schema, now)
      if (now.find((s) => s.version === m.version)?.state !== 'pending') return false
      for (const statement of splitStatements(m.sql.replaceAll('{{schema}}', schema))) await tx.query(statement)
      await tx.query(`INSERT INTO ${schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`, [m.version, m.name, m.checksum])
      return true
    })
    if (did) applied.push({ version: m.version, name: m.name, state: 'applied', checksum: m.checksum, appliedAt: new Date() })
  }
  return { applied, pending, dryRun: false }
}

/**
 * Splits a migration into statements so each runs through the transaction's own
 * connection on both drivers. Migrations keep to plain DDL: semicolons end statements,
 * except inside `$$` bodies, quotes and `--` comments.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = []
  let current = ''
  let i = 0
  let inDollar = false
  let inQuote = false
  while (i < sql.length) {
    const c = sql[i]!
    if (!inQuote && !inDollar && c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i)
      i = end === -1 ? sql.length : end
      continue
    }
    if (!inQuote && sql.startsWith('$$', i)) {
      inDollar = !inDollar
      current += '$$'
      i += 2
      continue
    }
    if (!inDollar && c === "'") inQuote = !inQuote
    if (!inQuote && !inDollar && c === ';') {
      if (current.trim()) out.push(current.trim())
      current = ''
    } else {
      current += c
    }
    i++
  }
  if (current.trim()) out.push(current.trim())
  return out
}

/** The check every command that needs the schema makes first: one cheap query. */
export async function assertSchemaReady(db: Database, migrations = loadMigrations()): Promise<void> {
  const applied = await readApplied(db, db.schema)
  const hint = `run: sagactl db migrate${db.schema === 'sagactl' ? '' : ` --schema ${db.schema}`}`
  if (!applied || applied.length === 0) {
    throw new SchemaNotReadyError(`schema "${db.schema}" is not migrated in ${db.displayUrl}`, hint)
  }
  const status = compareMigrations(migrations, applied)
  assertNoDrift(db.schema, status)
  const pending = status.filter((s) => s.state === 'pending').length
  if (pending > 0) throw new SchemaNotReadyError(`schema "${db.schema}" has ${pending} pending migration(s)`, hint)
}
