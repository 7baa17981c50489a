import { quoteIdent, type Database, type Queryable, type QueryOptions, type QueryResult } from './types.js'

/**
 * sagactl's SQL names every table as `{{schema}}.table`, the placeholder the migrations
 * use, so no query depends on search_path: a pooler that drops or ignores startup
 * parameters, or a role whose search_path points elsewhere, cannot send a query to the
 * wrong schema.
 */
export const SCHEMA_PLACEHOLDER = '{{schema}}'

/** The hot path sends the same few statements thousands of times a second: each is rewritten once. */
const caches = new Map<string, Map<string, string>>()
const CACHE_MAX = 1_000

export function qualify(sql: string, schema: string): string {
  let cache = caches.get(schema)
  if (!cache) caches.set(schema, (cache = new Map()))
  const hit = cache.get(sql)
  if (hit !== undefined) return hit
  const out = sql.includes(SCHEMA_PLACEHOLDER) ? sql.replaceAll(SCHEMA_PLACEHOLDER, quoteIdent(schema)) : sql
  // Statements built with values in them would grow the cache without bound: it starts over instead.
  if (cache.size >= CACHE_MAX) cache.clear()
  cache.set(sql, out)
  return out
}

function qualifiedQueryable(q: Queryable, schema: string): Queryable {
  return {
    query: <R = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<R>> =>
      q.query<R>(qualify(sql, schema), params, opts),
  }
}

/**
 * The database every command uses: each statement's placeholder replaced by the schema
 * asked for. A proxy, so whatever else a driver offers stays reachable as it is.
 */
export function schemaQualified<D extends Database>(db: D): D {
  const q = qualifiedQueryable(db, db.schema)
  const overrides: Partial<Database> = {
    query: q.query,
    exec: (sql) => db.exec(qualify(sql, db.schema)),
    transaction: (fn) => db.transaction((tx) => fn(qualifiedQueryable(tx, db.schema))),
  }
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof Database]
      const value = Reflect.get(target, prop, receiver) as unknown
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}
