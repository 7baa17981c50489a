import { resolve } from 'node:path'
import { UsageError } from '../errors.js'
import type { Config } from '../config.js'
import { schemaQualified } from './qualified.js'
import { isValidSchemaName, type Database } from './types.js'
import { takePoolerParam } from './url-params.js'

export type DatabaseSource = 'flag' | 'SAGACTL_DATABASE_URL' | 'DATABASE_URL' | 'sagactl.yaml' | 'embedded'

export interface DatabaseChoice {
  source: DatabaseSource
  /** A postgres:// URL, or `pglite:<dir>` / `pglite:memory` for the embedded database. */
  url: string
}

export interface SelectOptions {
  flagUrl?: string
  env?: NodeJS.ProcessEnv
  config?: Config
  cwd?: string
}

export const DEFAULT_SCHEMA = 'sagactl'
export const EMBEDDED_DIR = '.sagactl/data'

/** SPEC.md section 4: flag, SAGACTL_DATABASE_URL, DATABASE_URL, sagactl.yaml, else embedded. */
export function selectDatabase(opts: SelectOptions = {}): DatabaseChoice {
  const env = opts.env ?? process.env
  if (opts.flagUrl) return { source: 'flag', url: opts.flagUrl }
  if (env.SAGACTL_DATABASE_URL) return { source: 'SAGACTL_DATABASE_URL', url: env.SAGACTL_DATABASE_URL }
  if (env.DATABASE_URL) return { source: 'DATABASE_URL', url: env.DATABASE_URL }
  if (opts.config?.database?.url) return { source: 'sagactl.yaml', url: opts.config.database.url }
  return { source: 'embedded', url: `pglite:${resolve(opts.cwd ?? process.cwd(), EMBEDDED_DIR)}` }
}

export interface OpenOptions {
  url: string
  schema?: string
  /** Pool size for a real server. */
  max?: number
  applicationName?: string
  /** A direct connection for LISTEN when `url` goes through a pooler (`--listen-database-url`). */
  listenUrl?: string
  /**
   * For an embedded directory: whether this process serves it to others while it runs
   * (long-running commands), the command's name for other processes' messages, and what
   * to tell the user while it waits for a directory another command holds.
   */
  embedded?: { serve?: boolean; recover?: boolean; command?: string; onWait?: (line: string) => void }
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  return schemaQualified(await openDriver(opts))
}

async function openDriver(options: OpenOptions): Promise<Database> {
  // `?pgbouncer=true` is accepted on every URL and never reaches the server.
  const { url, pgbouncer } = takePoolerParam(options.url)
  const listen = options.listenUrl === undefined ? undefined : takePoolerParam(options.listenUrl)
  const opts = { ...options, url }
  const schema = opts.schema ?? DEFAULT_SCHEMA
  if (!isValidSchemaName(schema)) {
    throw new UsageError(`invalid schema name "${schema}": use lower-case letters, digits and _`)
  }
  if (opts.url.startsWith('pglite:')) {
    const location = opts.url.slice('pglite:'.length)
    // Each driver is loaded only when chosen: the other one costs start-up time for nothing.
    if (location === 'memory' || location === '') {
      const { PgliteDatabase } = await import('./pglite-driver.js')
      return PgliteDatabase.open({ schema })
    }
    const { openEmbedded } = await import('./embedded/owner.js')
    return openEmbedded({
      dataDir: resolve(location),
      schema,
      serve: opts.embedded?.serve ?? false,
      recover: opts.embedded?.recover ?? false,
      command: opts.embedded?.command ?? 'process',
      max: opts.max,
      onWait: opts.embedded?.onWait,
    })
  }
  if (/^postgres(ql)?:\/\//.test(opts.url)) {
    if (!URL.canParse(opts.url)) {
      // Not quoted: a URL that does not parse cannot be redacted, and may hold a password.
      throw new UsageError('malformed database URL: it does not parse as postgres://user@host:port/database', 'check --database-url / SAGACTL_DATABASE_URL (a Unix socket: postgresql:///db?host=/var/run/postgresql)')
    }
    const { PgDatabase } = await import('./pg-driver.js')
    return new PgDatabase({
      url: opts.url,
      schema,
      max: opts.max,
      applicationName: opts.applicationName,
      pooler: pgbouncer,
      listenUrl: listen?.url,
      listenPooler: listen?.pgbouncer,
    })
  }
  throw new UsageError(`unsupported database URL "${opts.url.split(':')[0]}:…": use postgres://… or pglite:<dir>`)
}
