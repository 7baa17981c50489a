import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { channelFor, quoteIdent, type Database, type Queryable, type QueryResult } from './types.js'
import { mapDriverError } from './errors.js'

export interface PgliteOptions {
  /** A directory for the data, or undefined for an in-memory database. */
  dataDir?: string
  schema: string
}

/** Embedded PostgreSQL (WASM). One process owns a data directory at a time. */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite'
  readonly displayUrl: string
  readonly schema: string

  private constructor(private readonly db: PGlite, opts: PgliteOptions) {
    this.schema = opts.schema
    this.displayUrl = opts.dataDir ? `pglite:${opts.dataDir}` : 'pglite:memory'
  }

  static async open(opts: PgliteOptions): Promise<PgliteDatabase> {
    if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true })
    let db: PGlite
    try {
      db = await PGlite.create(opts.dataDir)
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      throw mapDriverError(Object.assign(new Error(`cannot open embedded database: ${message}`), { code: '08006' }), `pglite:${opts.dataDir ?? 'memory'}`, opts.schema)
    }
    await db.exec(`SET search_path TO ${quoteIdent(opts.schema)}, public`)
    return new PgliteDatabase(db, opts)
  }

  private map(err: unknown): unknown {
    return mapDriverError(err, this.displayUrl, this.schema)
  }

  async query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    try {
      const res = await this.db.query<R>(sql, params)
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length }
    } catch (err) {
      throw this.map(err)
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.db.exec(sql)
    } catch (err) {
      throw this.map(err)
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction(async (t) =>
        fn({
          query: async <R>(sql: string, params?: unknown[]) => {
            const res = await t.query<R>(sql, params)
            return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length }
          },
        }),
      )
    } catch (err) {
      throw this.map(err)
    }
  }

  async listen(handler: (payload: string) => void, channel = channelFor(this.schema)): Promise<() => Promise<void>> {
    // PGlite puts the channel into LISTEN unquoted: channel names are plain identifiers.
    return this.db.listen(channel, handler)
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close()
  }
}
