// Just enough of the PostgreSQL wire protocol (v3) to serve one embedded backend to many
// connections: frame messages, give each connection its own prepared-statement names, and
// pick notifications and the transaction status out of the backend's answers.

export const PROTOCOL_V3 = 196608
export const SSL_REQUEST = 80877103
export const GSSENC_REQUEST = 80877104

export interface FrontendMessage {
  type: string
  /** The whole message: type byte, length, body. */
  bytes: Buffer
}

/** Splits typed frontend messages off the front of `buf`; returns them and the incomplete rest. */
export function splitMessages(buf: Buffer): { messages: FrontendMessage[]; rest: Buffer } {
  const messages: FrontendMessage[] = []
  let at = 0
  while (buf.length - at >= 5) {
    const len = buf.readInt32BE(at + 1)
    if (buf.length - at < 1 + len) break
    messages.push({ type: String.fromCharCode(buf[at]!), bytes: buf.subarray(at, at + 1 + len) })
    at += 1 + len
  }
  return { messages, rest: buf.subarray(at) }
}

/** The untyped first message of a connection (startup, SSL or cancel request), when complete. */
export function readUntyped(buf: Buffer): { code: number; bytes: Buffer } | null {
  if (buf.length < 8) return null
  const len = buf.readInt32BE(0)
  if (buf.length < len) return null
  return { code: buf.readInt32BE(4), bytes: buf.subarray(0, len) }
}

/** Startup parameters (user, database, options, …) of a startup message. */
export function startupParams(bytes: Buffer): Record<string, string> {
  const parts = bytes.subarray(8).toString('utf8').split('\0')
  const params: Record<string, string> = {}
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) params[parts[i]!] = parts[i + 1]!
  return params
}

function cstring(buf: Buffer, at: number): { value: string; end: number } {
  const end = buf.indexOf(0, at)
  return { value: buf.toString('utf8', at, end), end: end + 1 }
}

function frame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

const z = (s: string) => Buffer.from(`${s}\0`, 'utf8')

/** A simple-protocol query message. */
export function queryMessage(sql: string): Buffer {
  return frame('Q', z(sql))
}

/** Closes a prepared statement, then Sync. */
export function closeStatements(names: Iterable<string>): Buffer {
  const parts = [...names].map((n) => frame('C', Buffer.concat([Buffer.from('S'), z(n)])))
  return Buffer.concat([...parts, frame('S', Buffer.alloc(0))])
}

/**
 * The backend is one session shared by every connection, so a named statement or portal
 * of one connection must not meet another's of the same name: names get the connection's
 * prefix. The unnamed ones stay as they are (a connection's batch runs alone up to Sync).
 */
export function renameMessage(m: FrontendMessage, prefix: string): { bytes: Buffer; parsed?: string } {
  const body = m.bytes.subarray(5)
  const name = (n: string) => (n === '' ? '' : prefix + n)
  switch (m.type) {
    case 'P': {
      const stmt = cstring(body, 0)
      if (stmt.value === '') return { bytes: m.bytes }
      return { bytes: frame('P', Buffer.concat([z(name(stmt.value)), body.subarray(stmt.end)])), parsed: name(stmt.value) }
    }
    case 'B': {
      const portal = cstring(body, 0)
      const stmt = cstring(body, portal.end)
      if (portal.value === '' && stmt.value === '') return { bytes: m.bytes }
      return { bytes: frame('B', Buffer.concat([z(name(portal.value)), z(name(stmt.value)), body.subarray(stmt.end)])) }
    }
    case 'D':
    case 'C': {
      const target = cstring(body, 1)
      if (target.value === '') return { bytes: m.bytes }
      return { bytes: frame(m.type, Buffer.concat([body.subarray(0, 1), z(name(target.value)), body.subarray(target.end)])) }
    }
    case 'E': {
      const portal = cstring(body, 0)
      if (portal.value === '') return { bytes: m.bytes }
      return { bytes: frame('E', Buffer.concat([z(name(portal.value)), body.subarray(portal.end)])) }
    }
    default:
      return { bytes: m.bytes }
  }
}

/** The SQL of a simple query message. */
export function queryText(m: FrontendMessage): string {
  return m.bytes.toString('utf8', 5, m.bytes.length - 1)
}

export interface Notification {
  channel: string
  bytes: Buffer
}

/**
 * Splits the backend's answer into what goes back to the caller, the notifications (for
 * whoever listens), and the transaction status of the last ReadyForQuery ('I' idle, 'T' in
 * a transaction, 'E' in a failed one), when there was one.
 */
export function scanBackend(buf: Buffer): { reply: Buffer; notifications: Notification[]; status: string | null } {
  const keep: Buffer[] = []
  const notifications: Notification[] = []
  let status: string | null = null
  let at = 0
  let from = 0
  while (buf.length - at >= 5) {
    const type = String.fromCharCode(buf[at]!)
    const len = buf.readInt32BE(at + 1)
    const end = at + 1 + len
    if (type === 'A') {
      if (at > from) keep.push(buf.subarray(from, at))
      const channel = cstring(buf, at + 9)
      notifications.push({ channel: channel.value, bytes: Buffer.from(buf.subarray(at, end)) })
      from = end
    } else if (type === 'Z') {
      status = String.fromCharCode(buf[at + 5]!)
    }
    at = end
  }
  if (buf.length > from) keep.push(buf.subarray(from))
  return { reply: keep.length === 1 ? keep[0]! : Buffer.concat(keep), notifications, status }
}

/** LISTEN / UNLISTEN in a simple query: the channel (null for UNLISTEN *), or undefined when it is neither. */
export function listenCommand(sql: string): { listen: boolean; channel: string | null } | undefined {
  const m = /^\s*(UN)?LISTEN\s+("([^"]+)"|([A-Za-z_][A-Za-z0-9_$]*)|\*)\s*;?\s*$/i.exec(sql)
  if (!m) return undefined
  const channel = m[3] ?? m[4]?.toLowerCase() ?? null
  if (channel === null && !m[1]) return undefined
  return { listen: !m[1], channel }
}
