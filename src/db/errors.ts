import { DatabaseUnreachableError, ReadOnlyStandbyError, SagactlError, SchemaNotReadyError } from '../errors.js'

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET', 'EAI_AGAIN', 'EPIPE'])

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' ? code : undefined
}

/**
 * Turns a driver error into the product's error where it means "cannot reach the
 * database" or "the schema is not there"; anything else is returned unchanged.
 */
export function mapDriverError(err: unknown, displayUrl: string, schema: string): unknown {
  if (err instanceof SagactlError) return err
  const code = sqlState(err)
  const message = err instanceof Error ? err.message : String(err)
  const infrastructure = INFRASTRUCTURE_ERRORS.find((e) => e.code === code && (!e.message || e.message.test(message)))
  if (infrastructure) return infrastructure.error(message.split('\n')[0]!, displayUrl)
  const unreachable =
    (code !== undefined && (NETWORK_CODES.has(code) || code.startsWith('08') || code.startsWith('28') || code === '3D000' || code === '57P03')) ||
    /Connection terminated|timeout expired|connect ETIMEDOUT/.test(message)
  if (unreachable) {
    return new DatabaseUnreachableError(
      `database unreachable at ${displayUrl}: ${message.split('\n')[0]}`,
      'check --database-url / SAGACTL_DATABASE_URL and that the server is running',
    )
  }
  if (code === '3F000') {
    return new SchemaNotReadyError(
      `schema "${schema}" is not migrated in ${displayUrl}`,
      `run: sagactl db migrate${schema === 'sagactl' ? '' : ` --schema ${schema}`}`,
    )
  }
  return err
}

/**
 * What sits between sagactl and PostgreSQL: a pooler, a standby. Checked before the
 * generic mapping above, since PgBouncer's refusals use SQLSTATE class 08 too.
 */
const INFRASTRUCTURE_ERRORS: { code: string; message?: RegExp; error: (message: string, displayUrl: string) => SagactlError }[] = [
  {
    code: '25006',
    error: (message, displayUrl) =>
      new ReadOnlyStandbyError(
        `this is a read-only standby; use the primary (${displayUrl}: ${message})`,
        'point --database-url / SAGACTL_DATABASE_URL at the primary; a replica belongs in --read-database-url',
      ),
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
