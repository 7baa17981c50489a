import { createServer, type Server, type Socket } from 'node:net'
import type { PGlite } from '@electric-sql/pglite'
import {
  GSSENC_REQUEST,
  PROTOCOL_V3,
  SSL_REQUEST,
  closeStatements,
  listenCommand,
  queryMessage,
  queryText,
  readUntyped,
  renameMessage,
  scanBackend,
  splitMessages,
  startupParams,
  type Notification,
} from './wire.js'

/**
 * Serves one PGlite (a single backend session) to many PostgreSQL connections.
 *
 * Each connection's work runs as whole batches (up to a Sync or a simple query), one batch
 * at a time, so the extended protocol of one connection never interleaves with another's;
 * while a connection has a transaction open, only its batches run. On top of the shared
 * session it keeps, per connection: prepared-statement names, the search_path given at
 * startup, and LISTEN subscriptions (notifications go to every connection that listens,
 * whoever committed the NOTIFY). A connection that goes away mid-transaction is rolled back.
 */
export class EmbeddedServer {
  private readonly server: Server
  private readonly conns = new Set<Connection>()
  private readonly queue: Array<{ conn: Connection; batch: Buffer[] }> = []
  private holder: Connection | null = null
  private running = false
  private searchPath: string | null = null
  private nextId = 1
  private closed = false
  private startupReply: Buffer | null = null

  constructor(private readonly db: PGlite) {
    this.server = createServer((socket) => this.accept(socket))
  }

  /** Listens on a unix socket path, or on 127.0.0.1 (port 0: any free one); resolves to the port or path. */
  listen(where: { path: string } | { port: number }): Promise<string | number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      const done = () => {
        this.server.off('error', reject)
        const addr = this.server.address()
        resolve(typeof addr === 'object' && addr ? addr.port : String(addr))
      }
      if ('path' in where) this.server.listen(where.path, done)
      else this.server.listen(where.port, '127.0.0.1', done)
    })
  }

  get connections(): number {
    return this.conns.size
  }

  /** Stops accepting, closes every connection and waits for the batch in flight. */
  async close(): Promise<void> {
    this.closed = true
    for (const c of this.conns) c.socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    while (this.running) await new Promise((r) => setTimeout(r, 5))
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true)
    const conn = new Connection(this.nextId++, socket)
    this.conns.add(conn)
    socket.on('data', (data) => this.receive(conn, data))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => this.drop(conn))
  }

  private receive(conn: Connection, data: Buffer): void {
    conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, data]) : data
    while (!conn.started) {
      const first = readUntyped(conn.buffer)
      if (!first) return
      conn.buffer = conn.buffer.subarray(first.bytes.length)
      if (first.code === SSL_REQUEST || first.code === GSSENC_REQUEST) {
        conn.socket.write('N')
      } else if (first.code === PROTOCOL_V3) {
        conn.started = true
        conn.searchPath = searchPathOption(startupParams(first.bytes).options)
        // The backend answers every startup alike: after the first, a new connection is
        // answered at once instead of waiting behind another connection's transaction.
        if (this.startupReply) conn.socket.write(this.startupReply)
        else this.enqueue(conn, [Buffer.from(first.bytes)])
      } else {
        // A cancel request (or an unknown protocol): nothing can be cancelled in a single backend.
        conn.socket.destroy()
        return
      }
    }
    const { messages, rest } = splitMessages(conn.buffer)
    conn.buffer = Buffer.from(rest)
    for (const m of messages) {
      if (m.type === 'X') {
        conn.socket.end()
        return
      }
      if (m.type === 'Q') {
        const cmd = listenCommand(queryText(m))
        if (cmd) conn.pendingListen.push(cmd)
      }
      const renamed = renameMessage(m, conn.prefix)
      if (renamed.parsed) conn.statements.add(renamed.parsed)
      conn.pending.push(renamed.bytes)
      if (m.type === 'S' || m.type === 'Q' || m.type === 'H') {
        this.enqueue(conn, conn.pending)
        conn.pending = []
      }
    }
  }

  private enqueue(conn: Connection, batch: Buffer[]): void {
    this.queue.push({ conn, batch })
    void this.pump()
  }

  private drop(conn: Connection): void {
    if (!this.conns.delete(conn) || this.closed) return
    conn.gone = true
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.conn === conn) this.queue.splice(i, 1)
    conn.listens.clear()
    // What the connection left in the shared session goes with it: its transaction, its statements.
    const cleanup: Buffer[] = []
    if (this.holder === conn || conn.statements.size > 0) {
      if (this.holder === conn) cleanup.push(queryMessage('ROLLBACK'))
      if (conn.statements.size > 0) cleanup.push(closeStatements(conn.statements))
      this.queue.unshift({ conn, batch: cleanup })
      void this.pump()
    }
  }

  private next(): { conn: Connection; batch: Buffer[] } | undefined {
    if (!this.holder) return this.queue.shift()
    const i = this.queue.findIndex((q) => q.conn === this.holder)
    return i === -1 ? undefined : this.queue.splice(i, 1)[0]
  }

  private async pump(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      for (let item = this.next(); item && !this.closed; item = this.next()) {
        try {
          await this.run(item.conn, item.batch)
        } catch {
          // The backend itself failed (not a SQL error, which is an answer): the connection cannot go on.
          item.conn.socket.destroy()
        }
      }
    } finally {
      this.running = false
    }
  }

  private async run(conn: Connection, batch: Buffer[]): Promise<void> {
    if (!conn.gone && conn.searchPath && conn.searchPath !== this.searchPath && this.holder === null) {
      await this.exec(queryMessage(`SET search_path TO ${conn.searchPath}`))
      this.searchPath = conn.searchPath
    }
    const out = await this.exec(Buffer.concat(batch))
    const { reply, notifications, status } = scanBackend(out)
    if (batch[0]![0] === 0 && status === 'I') this.startupReply ??= Buffer.from(reply)
    if (status !== null) this.holder = status === 'I' || conn.gone ? null : conn
    else if (batch.some((b) => b[0] === 0x48)) this.holder = conn // Flush: the connection is mid-sequence
    if (conn.gone) {
      this.holder = null
    } else {
      if (reply.length > 0) conn.socket.write(reply)
      await this.applyListens(conn)
    }
    this.deliver(notifications)
  }

  /** After a connection's LISTEN/UNLISTEN ran, the session listens to what anyone still wants. */
  private async applyListens(conn: Connection): Promise<void> {
    if (conn.pendingListen.length === 0) return
    let unlistened = false
    for (const cmd of conn.pendingListen.splice(0)) {
      if (cmd.listen && cmd.channel) conn.listens.add(cmd.channel)
      else {
        unlistened = true
        if (cmd.channel) conn.listens.delete(cmd.channel)
        else conn.listens.clear()
      }
    }
    if (!unlistened) return
    const wanted = new Set<string>()
    for (const c of this.conns) for (const ch of c.listens) wanted.add(ch)
    for (const ch of wanted) this.deliver(scanBackend(await this.exec(queryMessage(`LISTEN "${ch.replaceAll('"', '""')}"`))).notifications)
  }

  private deliver(notifications: Notification[]): void {
    for (const n of notifications) {
      for (const c of this.conns) if (c.listens.has(n.channel)) c.socket.write(n.bytes)
    }
  }

  private async exec(message: Buffer): Promise<Buffer> {
    const chunks: Uint8Array[] = []
    await this.db.execProtocolRawStream(new Uint8Array(message.buffer, message.byteOffset, message.length), {
      onRawData: (data) => chunks.push(Buffer.from(data)),
    })
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)
  }
}

class Connection {
  readonly prefix: string
  buffer: Buffer = Buffer.alloc(0)
  started = false
  gone = false
  searchPath: string | null = null
  pending: Buffer[] = []
  readonly statements = new Set<string>()
  readonly listens = new Set<string>()
  readonly pendingListen: Array<{ listen: boolean; channel: string | null }> = []

  constructor(
    readonly id: number,
    readonly socket: Socket,
  ) {
    this.prefix = `c${id}_`
  }
}

/** `-c search_path=…` from the startup options, when it is a plain list of identifiers. */
function searchPathOption(options: string | undefined): string | null {
  const m = /(?:^|\s)-c\s*search_path=(\S+)/.exec(options ?? '')
  return m && /^[A-Za-z0-9_",$]+$/.test(m[1]!) ? m[1]! : null
}
