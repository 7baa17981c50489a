import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { DatabaseUnreachableError } from '../../errors.js'
import { PgDatabase } from '../pg-driver.js'
import type { Database, Queryable, QueryOptions, QueryResult } from '../types.js'
import type { HostData, HostMessage } from './host.js'
import { claimNext, clearNext, isAlive, processStart, readNext, readOwner, release, tryAcquire, updateOwner, type OwnerRecord } from './lock.js'

export interface EmbeddedOptions {
  dataDir: string
  schema: string
  /** Long-running commands serve the directory to other processes; short ones use it alone. */
  serve: boolean
  /**
   * A daemon (a worker, the scheduler) that reaches the directory through another process
   * carries on when that process exits: it takes the directory over, or goes through the
   * next owner. Other commands exit 9, saying what to run.
   */
  recover?: boolean
  /** The command, for other processes' messages ("worker", "saga list"). */
  command: string
  max?: number
  /** How long to wait for a directory another short command holds. */
  waitMs?: number
  /** Told once, when this process has to wait. */
  onWait?: (line: string) => void
}

const SOCKET = '.s.PGSQL.5432'
// sun_path holds 108 bytes on Linux, 104 on macOS; past that the owner listens on loopback TCP.
const MAX_SOCKET_PATH = 100

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function describe(owner: OwnerRecord): string {
  return `\`sagactl ${owner.command}\` (pid ${owner.pid})`
}

/**
 * Opens an embedded data directory under the one-owner rule: through the process that
 * serves it when one runs; else this process takes the directory (serving it to others
 * when it is long-running); a directory held by another short command is waited for.
 */
export async function openEmbedded(opts: EmbeddedOptions): Promise<Database> {
  const waitMs = opts.waitMs ?? 30_000
  const self: OwnerRecord = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    procStart: processStart(process.pid),
    command: opts.command,
    serves: opts.serve,
  }
  let told = false
  let holder = ''
  let deadline = 0
  let next = false
  try {
    for (;;) {
      // A short command leaves the directory to a long-running one that waits for it.
      const deferTo = opts.serve ? null : readNext(opts.dataDir)
      const got = deferTo ? { acquired: false as const, owner: readOwner(opts.dataDir) } : tryAcquire(opts.dataDir, self)
      if (got.acquired) return opts.serve ? await serve(opts, self) : await ownAlone(opts, self)
      const owner = got.owner
      if (owner?.listen) {
        const db = await connect(opts, owner)
        if (db) return db
      }
      if (opts.serve && !next) next = claimNext(opts.dataDir, self)
      // Bounded per holder: a queue of short commands that each finish is progress, not a hang.
      const who = owner ? `${owner.pid}@${owner.startedAt}` : deferTo ? `next:${deferTo.pid}` : ''
      if (who !== holder) {
        holder = who
        deadline = Date.now() + waitMs
      }
      if (Date.now() > deadline) {
        throw new DatabaseUnreachableError(
          `the embedded database in ${opts.dataDir} is busy: ${owner ? describe(owner) : 'another process'} has held it for over ${Math.round(waitMs / 1000)} s`,
          'wait for it to finish, or run a long-lived sagactl process (worker, monitor) that serves it to every other command',
        )
      }
      if (!told && (owner || deferTo)) {
        told = true
        const by = owner ?? deferTo!
        opts.onWait?.(`waiting for the embedded database: ${by.serves ? 'starting in' : 'in use by'} ${describe(by)}…`)
      }
      await sleep(owner?.serves ? 50 : 25)
    }
  } finally {
    if (next) clearNext(opts.dataDir, self)
  }
}

/** A short command with the directory to itself: PGlite in this process, the lock given up on close. */
async function ownAlone(opts: EmbeddedOptions, self: OwnerRecord): Promise<Database> {
  try {
    // Loaded only here: a process that goes through an owner never pays for PGlite.
    const { PgliteDatabase } = await import('../pglite-driver.js')
    const db = await PgliteDatabase.open({ dataDir: opts.dataDir, schema: opts.schema })
    return withRelease(db, () => release(opts.dataDir, self))
  } catch (err) {
    release(opts.dataDir, self)
    throw err
  }
}

async function serve(opts: EmbeddedOptions, self: OwnerRecord): Promise<Database> {
  const socketPath = join(opts.dataDir, SOCKET)
  const useSocket = process.platform !== 'win32' && Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH
  const thread = new Worker(new URL('./host.js', import.meta.url), { workerData: { dataDir: opts.dataDir, socketPath: useSocket ? socketPath : null } satisfies HostData })
  try {
    const ready = await new Promise<HostMessage>((resolve, reject) => {
      thread.once('message', resolve)
      thread.once('error', reject)
      thread.once('exit', (code) => reject(new Error(`the database thread exited (${code})`)))
    })
    if (ready.type !== 'ready') throw new Error(ready.type === 'error' ? ready.message : 'the database thread did not start')
    const owner: OwnerRecord = { ...self, listen: ready.port === null ? { path: socketPath } : { host: '127.0.0.1', port: ready.port } }
    updateOwner(opts.dataDir, owner)
    const db = served(opts, owner)
    return withRelease(db, async () => {
      await new Promise<void>((resolve) => {
        thread.once('exit', () => resolve())
        thread.once('message', () => void thread.terminate())
        thread.postMessage('close')
      })
      release(opts.dataDir, owner)
    })
  } catch (err) {
    await thread.terminate()
    release(opts.dataDir, self)
    const message = err instanceof Error ? err.message : String(err)
    throw new DatabaseUnreachableError(`cannot open the embedded database in ${opts.dataDir}: ${message}`, 'check that the directory is writable and not damaged')
  }
}

/** Through the owner; null when it does not answer (it is starting, or it just went away). */
async function connect(opts: EmbeddedOptions, owner: OwnerRecord): Promise<Database | null> {
  const db = served(opts, owner, opts.recover ? () => openEmbedded(opts) : undefined)
  try {
    await db.query('SELECT 1')
    return db
  } catch {
    await db.close().catch(() => {})
    return null
  }
}

function served(opts: EmbeddedOptions, owner: OwnerRecord, reopen?: () => Promise<Database>): Database {
  const where = owner.listen!
  const address = 'path' in where ? `host=${encodeURIComponent(where.path.slice(0, -SOCKET.length - 1))}` : `host=${where.host}&port=${where.port}`
  const pg = new PgDatabase({
    url: `postgresql://postgres@/postgres?${address}`,
    schema: opts.schema,
    max: opts.max,
    applicationName: `sagactl ${opts.command}`,
    // Local, so never slow to answer unless the machine is starved: then waiting beats failing.
    connectTimeoutMs: 30_000,
  })
  return new ServedDatabase(pg, opts.dataDir, owner, reopen)
}

interface Subscription {
  handler: (payload: string) => void
  channel: string | undefined
  off: () => Promise<void>
}

/**
 * An embedded directory reached through its owner: the pg driver underneath, shown as the
 * directory, and a lost owner explained (who it was, what to run) instead of a socket error.
 */
class ServedDatabase implements Database {
  readonly kind = 'pglite'
  readonly displayUrl: string
  readonly schema: string
  private current: Database
  private recovering: Promise<void> | null = null
  private readonly subscriptions = new Set<Subscription>()
  private closed = false

  constructor(
    pg: PgDatabase,
    private readonly dataDir: string,
    private owner: OwnerRecord,
    /** Set for a daemon: how it reaches the directory again once its owner is gone. */
    private readonly reopen?: () => Promise<Database>,
  ) {
    this.current = pg
    this.displayUrl = `pglite:${dataDir}`
    this.schema = pg.schema
  }

  private explain(err: unknown): unknown {
    if (!(err instanceof DatabaseUnreachableError) || this.owner.pid === process.pid) return err
    const alive = isAlive(this.owner)
    // A daemon goes on: the next call goes to the directory taken over, or to its next owner.
    if (!alive && this.reopen && !this.closed) this.recovering ??= this.recover().finally(() => (this.recovering = null))
    const how = alive ? 'stopped answering' : 'is gone (it exited or was killed)'
    return new DatabaseUnreachableError(
      `the process serving the embedded database in ${this.dataDir}, ${describe(this.owner)}, ${how}: ${err.message.replace(/^.*?: /, '')}`,
      this.reopen && !alive
        ? 'this process takes the directory over and goes on; everything committed before is there'
        : 'run the command again: the next sagactl process recovers the directory, and everything committed before is there',
    )
  }

  /** Reaches the directory again (taking it over, or through its next owner) and moves every LISTEN there. */
  private async recover(): Promise<void> {
    const next = await this.reopen!().catch(() => null)
    if (!next) return
    if (this.closed) {
      await next.close()
      return
    }
    const old = this.current
    this.current = next
    this.owner = readOwner(this.dataDir) ?? this.owner
    await old.close().catch(() => {})
    for (const sub of this.subscriptions) {
      sub.off = await next.listen(sub.handler, sub.channel).catch(() => async () => {})
    }
  }

  private async guard<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    if (this.recovering) await this.recovering
    try {
      return await fn(this.current)
    } catch (err) {
      throw this.explain(err)
    }
  }

  query<R = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<R>> {
    return this.guard((db) => db.query<R>(sql, params, opts))
  }

  exec(sql: string): Promise<void> {
    return this.guard((db) => db.exec(sql))
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.guard((db) => db.transaction(fn))
  }

  async listen(handler: (payload: string) => void, channel?: string): Promise<() => Promise<void>> {
    const sub: Subscription = { handler, channel, off: await this.guard((db) => db.listen(handler, channel)) }
    this.subscriptions.add(sub)
    return async () => {
      this.subscriptions.delete(sub)
      await sub.off()
    }
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.recovering) await this.recovering
    await this.current.close()
  }
}

/** The same database, with something to do once it is closed. */
function withRelease(db: Database, after: () => void | Promise<void>): Database {
  const close = db.close.bind(db)
  let closing: Promise<void> | null = null
  db.close = () =>
    (closing ??= (async () => {
      try {
        await close()
      } finally {
        await after()
      }
    })())
  return db
}

/** The owner recorded for a directory, when it still runs (for `db status`-like reports and tests). */
export function liveOwner(dataDir: string): OwnerRecord | null {
  const owner = readOwner(dataDir)
  return owner && isAlive(owner) ? owner : null
}
