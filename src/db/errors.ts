import { DatabaseRefusedError, DatabaseUnreachableError, ReadOnlyStandbyError, SagactlError, SchemaNotReadyError, UsageError } from '../errors.js'

// ENOENT and EACCES: a Unix socket that is not there, or not ours to open.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET', 'EAI_AGAIN', 'EPIPE', 'ENOENT', 'EACCES'])

/**
 * SQLSTATEs that are not bugs, named for the operator: `database` ones are the server's
 * state or the role's rights (exit 9), `usage` ones come from a value the user gave (exit
 * 2). One table, so every condition is added in one place.
 */
const SQLSTATES: Record<string, { kind: 'database' | 'usage'; what: string; hint?: string }> = {
  // 25006 (a read-only standby) is named by INFRASTRUCTURE_ERRORS below.
  '42501': { kind: 'database', what: 'the database role lacks a privilege', hint: "grant the role sagactl's tables (see README: Storage and scale), or use the owner" },
  '53100': { kind: 'database', what: "the database server's disk is full", hint: 'free space on the server, then run the command again' },
  '53200': { kind: 'database', what: 'the database server is out of memory' },
  '53300': { kind: 'database', what: 'the database server has no free connection slots', hint: 'lower --concurrency, or raise max_connections / use a pooler' },
  '53400': { kind: 'database', what: 'a database server limit was exceeded' },
  '57014': { kind: 'database', what: 'the database cancelled the statement (statement_timeout or an administrator)' },
  '22021': { kind: 'usage', what: 'a value contains a character PostgreSQL cannot store (a NUL)' },
  '22P05': { kind: 'usage', what: 'a value contains a character PostgreSQL cannot store (\\u0000)' },
  '54000': { kind: 'usage', what: 'a value is too large for the database (an index row or field limit)' },
  '54001': { kind: 'usage', what: 'a value is nested too deeply for the database' },
}

// Conditions the driver reports without a SQLSTATE.
const UNREACHABLE_MESSAGES = /Connection terminated|timeout expired|connect ETIMEDOUT|does not support SSL connections|self[- ]signed certificate|certificate/i

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' ? code : undefined
}

/**
 * Turns a driver error into the product's error where it means "cannot reach the
 * database", "the schema is not there", or a condition of the SQLSTATES table; anything
 * else is returned unchanged.
 */
export function mapDriverError(err: unknown, displayUrl: string, schema: string): unknown {
  if (err instanceof SagactlError) return err
  const code = sqlState(err)
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? ''
  const infrastructure = INFRASTRUCTURE_ERRORS.find((e) => e.code === code && (!e.message || e.message.test(message)))
  if (infrastructure) return infrastructure.error(message, displayUrl)
  const unreachable =
    (code !== undefined && (NETWORK_CODES.has(code) || code.startsWith('08') || code.startsWith('28') || code === '3D000' || code === '57P03')) ||
    UNREACHABLE_MESSAGES.test(message ?? '')
  if (unreachable) {
    return new DatabaseUnreachableError(
      `database unreachable at ${displayUrl}: ${message}`,
      /SSL/i.test(message ?? '') ? 'the server has no TLS: drop sslmode=require, or enable ssl on the server' : 'check --database-url / SAGACTL_DATABASE_URL and that the server is running',
    )
  }
  if (code === '3F000') {
    return new SchemaNotReadyError(
      `schema "${schema}" is not migrated in ${displayUrl}`,
      `run: sagactl db migrate${schema === 'sagactl' ? '' : ` --schema ${schema}`}`,
    )
  }
  const known = code === undefined ? undefined : SQLSTATES[code]
  if (known) {
    const text = `${known.what} (SQLSTATE ${code}: ${message})`
    return known.kind === 'usage' ? new UsageError(text, known.hint) : new DatabaseRefusedError(`${displayUrl}: ${text}`, known.hint)
  }
  return err
}

/** A write (or a migration) sent to a hot standby. */
export function readOnlyStandby(detail: string): ReadOnlyStandbyError {
  return new ReadOnlyStandbyError(
    `this is a read-only standby; use the primary (${detail})`,
    'point --database-url / SAGACTL_DATABASE_URL at the primary; a replica belongs in --read-database-url',
  )
}

/**
 * What sits between sagactl and PostgreSQL: a pooler, a standby. Checked before the
 * generic mapping above, since PgBouncer's refusals use SQLSTATE class 08 too.
 */
const INFRASTRUCTURE_ERRORS: { code: string; message?: RegExp; error: (message: string, displayUrl: string) => SagactlError }[] = [
  {
    code: '25006',
    error: (message, displayUrl) => readOnlyStandby(`SQLSTATE 25006 from ${displayUrl}: ${message}`),
  },
  {
    code: '08P01',
    message: /unsupported startup parameter/,
    error: (message, displayUrl) =>
      new DatabaseUnreachableError(
        `${displayUrl} refused the connection: ${message}`,
        'this is PgBouncer: add ?pgbouncer=true to the URL, or a direct URL for LISTEN with --listen-database-url',
      ),
  },
]

/** PgBouncer with a stock config refuses the startup `options` sagactl sends for a direct server. */
export function isStartupParameterRejected(err: unknown): boolean {
  return sqlState(err) === '08P01' && /unsupported startup parameter/.test(err instanceof Error ? err.message : String(err))
}
