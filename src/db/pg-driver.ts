import { randomUUID } from 'node:crypto'
import type { ClientConfig, Pool, PoolClient, QueryConfig } from 'pg'
import pg from './pg-module.js'
import { channelFor, EVENTS_LISTENER_LOCK, LISTENER_HELLO, quoteIdent, workChannelFor, type Database, type Queryable, type QueryOptions, type QueryResult } from './types.js'
import { isStartupParameterRejected, mapDriverError } from './errors.js'
import { NotificationsSilentError } from '../errors.js'
import { redactUrl } from './redact.js'

// int8 (counts, event ids) as numbers: every value the product keeps in int8 stays far below 2^53.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v)
    return pg.types.getTypeParser(oid, format as 'text')
  },
}

/** How long a LISTEN connection gets to receive its own test notification. */
export const NOTIFY_CHECK_MS = 3_000

export interface PgOptions {
  url: string
  schema: string
  max?: number
  applicationName?: string
  /**
   * Behind a pooler (`?pgbouncer=true`): no startup `options` and no named prepared
   * statements, which a pooler in transaction mode would hand to other clients' sessions.
   */
  pooler?: boolean
  /** A direct connection for LISTEN: a pooler in transaction mode does not pass notifications on. */
  listenUrl?: string
  /** Whether the listen URL itself goes through a pooler. */
  listenPooler?: boolean
  /** How long a new connection may take (default 5 s). */
  connectTimeoutMs?: number
}

export class PgDatabase implements Database {
  readonly kind = 'pg'
  readonly displayUrl: string
  readonly schema: string
  private pool: Pool
  private pooler: boolean
  private checked: Promise<void> | undefined

  constructor(private readonly opts: PgOptions) {
    this.schema = opts.schema
    this.displayUrl = redactUrl(opts.url)
    this.pooler = opts.pooler === true
    this.pool = this.newPool()
  }

  /** True when sagactl talks to a pooler: said by the URL, or found out on connecting. */
  get behindPooler(): boolean {
    return this.pooler
  }

  private clientConfig(url: string, pooler: boolean): ClientConfig {
    return {
      connectionString: url,
      // Only for ad-hoc SQL typed against this schema: sagactl's own statements name it themselves.
      options: pooler ? undefined : `-c search_path=${quoteIdent(this.schema)},public`,
      application_name: this.opts.applicationName ?? 'sagactl',
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 5_000,
      types,
    }
  }

  private newPool(): Pool {
    const pool = new pg.Pool({ ...this.clientConfig(this.opts.url, this.pooler), max: this.opts.max ?? 10, idleTimeoutMillis: 30_000 })
    // An idle client that loses its server must not crash the process; the next query reports it.
    pool.on('error', () => {})
    return pool
  }

  private map(err: unknown): unknown {
    return mapDriverError(err, this.displayUrl, this.schema)
  }

  /**
   * The first use finds a pooler the URL did not mention: PgBouncer refuses the startup
   * `options` outright (then sagactl reconnects without them), or, with
   * `ignore_startup_parameters = options`, accepts and drops them (then search_path is not
   * exactly the one sent, even when the role's own search_path names the schema). Either
   * way named prepared statements are turned off from then on.
   */
  private ready(): Promise<void> {
    this.checked ??= (async () => {
      if (this.pooler) return
      let sp: string
      try {
        const res = await this.pool.query<{ sp: string }>(`SELECT current_setting('search_path') AS sp`)
        sp = res.rows[0]?.sp ?? ''
      } catch (err) {
        if (!isStartupParameterRejected(err)) throw err
        await this.switchToPooler()
        return
      }
      const path = sp.split(',').map((s) => s.trim().replace(/^"|"$/g, ''))
      if (path.length !== 2 || path[0] !== this.schema || path[1] !== 'public') this.pooler = true
    })().catch((err: unknown) => {
      this.checked = undefined
      throw err
    })
    return this.checked
  }

  private async switchToPooler(): Promise<void> {
    const old = this.pool
    this.pooler = true
    this.pool = this.newPool()
    await old.end().catch(() => {})
  }

  private statement(sql: string, params: unknown[] | undefined, opts: QueryOptions | undefined): QueryConfig {
    return { text: sql, values: params, name: this.pooler ? undefined : opts?.name }
  }

  async query<R = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<R>> {
    try {
      await this.ready()
      const res = await this.pool.query(this.statement(sql, params, opts))
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 }
    } catch (err) {
      throw this.map(err)
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.ready()
      await this.pool.query(sql)
    } catch (err) {
      throw this.map(err)
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: PoolClient
    try {
      await this.ready()
      client = await this.pool.connect()
    } catch (err) {
      throw this.map(err)
    }
    const tx: Queryable = {
      query: async <R>(sql: string, params?: unknown[], opts?: QueryOptions) => {
        const res = await client.query(this.statement(sql, params, opts))
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

  /**
   * LISTEN on a connection of its own (the listen URL when one is set), then a test
   * notification sent the way sagactl's own are: when it does not come back within
   * NOTIFY_CHECK_MS the subscription is useless (a pooler in transaction mode swallows
   * notifications), so this fails and says so instead of leaving the caller waiting.
   */
  async listen(handler: (payload: string) => void, channel = channelFor(this.schema)): Promise<() => Promise<void>> {
    await this.ready().catch((err: unknown) => {
      throw this.map(err)
    })
    const url = this.opts.listenUrl ?? this.opts.url
    const pooler = this.opts.listenUrl ? this.opts.listenPooler === true : this.pooler
    const client = new pg.Client(this.clientConfig(url, pooler))
    client.on('error', () => {})
    const probe = `sagactl-probe:${randomUUID()}`
    let arrived: () => void = () => {}
    const delivered = new Promise<void>((resolve) => (arrived = resolve))
    const end = () => client.end().catch(() => {})
    try {
      await client.connect()
      client.on('notification', (msg) => {
        if (msg.payload === probe) arrived()
        else handler(msg.payload ?? '')
      })
      const events = channel === channelFor(this.schema)
      // Announced before listening: a worker that sees the lock notifies its transitions.
      if (events) await client.query(`SELECT pg_advisory_lock_shared(${EVENTS_LISTENER_LOCK})`, [this.schema])
      await client.query(`LISTEN ${quoteIdent(channel)}`)
      await this.query('SELECT pg_notify($1, $2)', [channel, probe])
      if (events) await this.query('SELECT pg_notify($1, $2)', [workChannelFor(this.schema), LISTENER_HELLO])
    } catch (err) {
      await end()
      throw mapDriverError(err, redactUrl(url), this.schema)
    }
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      delivered.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), NOTIFY_CHECK_MS))),
    ])
    clearTimeout(timer)
    if (timedOut) {
      await end()
      throw new NotificationsSilentError(
        `notifications do not arrive through ${redactUrl(url)} (a test NOTIFY got no answer in ${NOTIFY_CHECK_MS / 1000}s; PgBouncer in transaction mode drops them)`,
        'set --listen-database-url (or SAGACTL_LISTEN_DATABASE_URL, database.listenUrl) to a direct connection to the primary',
      )
    }
    return end
  }

  async close(): Promise<void> {
    await this.pool.end()
  }
}
