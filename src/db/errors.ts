import { DatabaseUnreachableError, SagactlError, SchemaNotReadyError } from '../errors.js'

// ENOENT and EACCES: a Unix socket that is not there, or not ours to open.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET', 'EAI_AGAIN', 'EPIPE', 'ENOENT', 'EACCES'])

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
