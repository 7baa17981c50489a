/** The storage interface: one shape for the pg Pool and for embedded PGlite. */
export interface QueryResult<R> {
  rows: R[]
  rowCount: number
}

export interface QueryOptions {
  /** Prepares the statement once per connection under this name (the hot path skips planning). */
  name?: string
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<R>>
}

export type DriverKind = 'pg' | 'pglite'

export interface Database extends Queryable {
  readonly kind: DriverKind
  /** The location with any password redacted: safe to print. */
  readonly displayUrl: string
  readonly schema: string
  /** Runs several statements in one round trip, no parameters (migrations). */
  exec(sql: string): Promise<void>
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /** Subscribes to a notification channel (default: this schema's events); resolves to an unsubscribe function. */
  listen(handler: (payload: string) => void, channel?: string): Promise<() => Promise<void>>
  close(): Promise<void>
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

export function isValidSchemaName(name: string): boolean {
  return SCHEMA_NAME.test(name)
}

/** Schema names are restricted to plain identifiers, so quoting never needs escaping. */
export function quoteIdent(name: string): string {
  if (!isValidSchemaName(name)) throw new Error(`invalid identifier: ${name}`)
  return `"${name}"`
}

/** NOTIFY channel of a schema: every live update of that schema goes out on it. */
export function channelFor(schema: string): string {
  return `${schema}_events`
}

/**
 * The channel that wakes idle workers: new sagas, and sagas handed back to run now. Kept
 * apart from the events channel so a worker's connection is not woken by every transition.
 */
export function workChannelFor(schema: string): string {
  return `${schema}_work`
}

/**
 * Every connection LISTENing on a schema's events channel holds this advisory lock
 * (shared, for its session), so a worker can tell whether anyone reads the channel and
 * leave its transitions un-notified when no one does: in PostgreSQL 15 each NOTIFY wakes
 * every listening connection of the database, the workers' own included, and notifying
 * transactions commit one at a time. Two int4 keys, as pg_locks shows them.
 */
export const EVENTS_LISTENER_LOCK = `hashtext('sagactl.listen'), hashtext($1)`

/** What a connection that begins listening on the events channel says on the work channel. */
export const LISTENER_HELLO = 'listener'
