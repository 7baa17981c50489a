import pg from 'pg'
import { channelFor, quoteIdent, type Database, type Queryable, type QueryOptions, type QueryResult } from './types.js'
import { mapDriverError } from './errors.js'
import { redactUrl } from './redact.js'

// int8 (counts, event ids) as numbers: every value the product keeps in int8 stays far below 2^53.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v)
    return pg.types.getTypeParser(oid, format as 'text')
  },
}

export interface PgOptions {
  url: string
  schema: string
  max?: number
  applicationName?: string
  /** How long a new connection may take (default 5 s). */
  connectTimeoutMs?: number
}

export class PgDatabase implements Database {
  readonly kind = 'pg'
  readonly displayUrl: string
  readonly schema: string
  private readonly pool: pg.Pool
  private readonly config: pg.ClientConfig

  constructor(opts: PgOptions) {
    this.schema = opts.schema
    this.displayUrl = redactUrl(opts.url)
    this.config = {
      connectionString: opts.url,
      options: `-c search_path=${quoteIdent(opts.schema)},public`,
      application_name: opts.applicationName ?? 'sagactl',
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      types,
    }
    this.pool = new pg.Pool({ ...this.config, max: opts.max ?? 10, idleTimeoutMillis: 30_000 })
    // An idle client that loses its server must not crash the process; the next query reports it.
    this.pool.on('error', () => {})
  }

  private map(err: unknown): unknown {
    return mapDriverError(err, this.displayUrl, this.schema)
  }

  async query<R = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<R>> {
    try {
      const res = await this.pool.query({ text: sql, values: params as unknown[], name: opts?.name })
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 }
    } catch (err) {
      throw this.map(err)
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.pool.query(sql)
    } catch (err) {
      throw this.map(err)
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (err) {
      throw this.map(err)
    }
    const tx: Queryable = {
      query: async <R>(sql: string, params?: unknown[], opts?: QueryOptions) => {
        const res = await client.query({ text: sql, values: params as unknown[], name: opts?.name })
        return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 }
      },
    }
    let broken = false
    try {
      await client.query('BEGIN')
      const result = await fn(tx)
      await client.query('COMMIT')
      return result
    } catch (err) {
      try {
        await client.query('ROLLBACK')
      } catch {
        broken = true
      }
      throw this.map(err)
    } finally {
      client.release(broken)
    }
  }

  async listen(handler: (payload: string) => void, channel = channelFor(this.schema)): Promise<() => Promise<void>> {
    // LISTEN needs a connection of its own for as long as the subscription lives.
    const client = new pg.Client(this.config)
    client.on('error', () => {})
    try {
      await client.connect()
      client.on('notification', (msg) => handler(msg.payload ?? ''))
      await client.query(`LISTEN ${quoteIdent(channel)}`)
    } catch (err) {
      await client.end().catch(() => {})
      throw this.map(err)
    }
    return async () => {
      await client.end().catch(() => {})
    }
  }

  async close(): Promise<void> {
    await this.pool.end()
  }
}
