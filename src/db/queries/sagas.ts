import { NotFoundError, UsageError } from '../../errors.js'
import { SAGA_STATUSES, type Saga, type SagaEvent, type SagaStatus, type StepRecord } from '../../engine/types.js'
import type { SagaSearch } from '../../engine/search.js'
import { EVENT_COLUMNS, SAGA_COLUMNS, SAGA_LIST_COLUMNS, STEP_COLUMNS, toEvent, toSaga, toStep } from '../rows.js'
import type { Queryable } from '../types.js'
import { searchConditions } from './search.js'
import { NORMALISED_REASON } from './stats.js'

/** What `saga list` and the bulk operator commands select; every field narrows the set (key, tags, input: see SagaSearch). */
export interface SagaFilter extends SagaSearch {
  status?: SagaStatus[]
  definition?: string
  version?: number
  /** Created at or after this time. */
  since?: Date
  /** Stuck: running/compensating with no update, or pending and not picked up, for this long. */
  stuckAfterMs?: number
  /** Still running or compensating, but the latest call failed (retrying). */
  failing?: boolean
  /** Text in the last error or the reason, case-insensitive. */
  error?: string
}

export interface PageOptions {
  limit: number
  /** The `next` cursor of the previous page: the last id it showed. */
  after?: string
}

export interface Page<T> {
  items: T[]
  next: string | null
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function dashed(hex32: string): string {
  return `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20)}`
}

/** A full UUID, with or without dashes, in canonical form; null for anything else. */
export function normalizeUuid(text: string): string | null {
  const t = text.trim().toLowerCase()
  if (UUID.test(t)) return t
  if (/^[0-9a-f]{32}$/.test(t)) return dashed(t)
  return null
}

/** The smallest UUID whose UUIDv7 timestamp is `at`: an id lower bound the primary key can range-scan. */
export function uuidV7Floor(at: Date): string {
  const ms = Math.max(0, Math.min(at.getTime(), 2 ** 48 - 1))
  return dashed(Math.floor(ms).toString(16).padStart(12, '0').padEnd(32, '0'))
}

export type IdPrefix = { exact: string } | { lower: string; upper: string }

/** A full UUID, or at least 4 leading hex digits (dashes where a UUID has them, or none); null if malformed. */
export function parseIdPrefix(text: string): IdPrefix | null {
  const exact = normalizeUuid(text)
  if (exact) return { exact }
  const t = text.trim().toLowerCase()
  const hex = t.replace(/-/g, '')
  if (!/^[0-9a-f]{4,31}$/.test(hex)) return null
  const lower = dashed(hex.padEnd(32, '0'))
  if (t.includes('-') && !lower.startsWith(t)) return null
  return { lower, upper: dashed(hex.padEnd(32, 'f')) }
}

/**
 * Resolves an id or unique prefix against a table's id index. Prefixes are a range scan
 * (`id BETWEEN lower AND upper`), so any leading part of a UUID works on the index.
 */
export async function resolveIdPrefix(q: Queryable, table: 'sagas' | 'interventions', noun: string, text: string): Promise<string> {
  const parsed = parseIdPrefix(text)
  if (!parsed) throw new UsageError(`invalid ${noun} id "${text}": expected a UUID or at least 4 of its leading hex digits`)
  const res =
    'exact' in parsed
      ? await q.query<{ id: string }>(`SELECT id FROM {{schema}}.${table} WHERE id = $1 LIMIT 1`, [parsed.exact])
      : await q.query<{ id: string }>(`SELECT DISTINCT id FROM {{schema}}.${table} WHERE id >= $1 AND id <= $2 ORDER BY id LIMIT 6`, [parsed.lower, parsed.upper])
  const ids = res.rows.map((r) => r.id)
  if (ids.length === 0) throw new NotFoundError(`no ${noun} matches "${text}"`)
  if (ids.length > 1) {
    const shown = ids.slice(0, 5).join(', ') + (ids.length > 5 ? ', …' : '')
    throw new UsageError(`ambiguous ${noun} id "${text}": matches ${shown}`, 'give more characters of the id')
  }
  return ids[0]!
}

export const KEY_PREFIX = 'key:'

/** A saga id, a unique prefix, or `key:<start key>`: the one place a saga reference is resolved. */
export async function resolveSagaId(q: Queryable, ref: string): Promise<string> {
  if (!ref.startsWith(KEY_PREFIX)) return resolveIdPrefix(q, 'sagas', 'saga', ref)
  const key = ref.slice(KEY_PREFIX.length)
  if (key === '') throw new UsageError('"key:" needs the start key after it, e.g. key:order-1042')
  const res = await q.query<{ id: string }>(`SELECT id FROM {{schema}}.sagas WHERE idempotency_key = $1`, [key])
  if (!res.rows[0]) throw new NotFoundError((await deletedKeyNote(q, key)) ?? `no saga was started with key "${key}"`)
  return res.rows[0].id
}

/** `key "k" belonged to saga …, deleted at … by …` (as refuse_deleted_key() words it, sql/0006), or null when no deleted saga had the key. */
export async function deletedKeyNote(q: Queryable, key: string): Promise<string | null> {
  const res = await q.query<{ saga_id: string; deleted_at: Date; deleted_by: string }>(
    `SELECT saga_id, deleted_at, deleted_by FROM {{schema}}.deleted_keys WHERE idempotency_key = $1`,
    [key],
  )
  const d = res.rows[0]
  return d ? `key "${key}" belonged to saga ${d.saga_id}, deleted at ${new Date(d.deleted_at).toISOString().slice(0, 19)}Z by ${d.deleted_by}` : null
}

class Params {
  readonly values: unknown[] = []
  add(v: unknown): string {
    this.values.push(v)
    return `$${this.values.length}`
  }
}

const FAILING_STATUSES: readonly SagaStatus[] = ['running', 'compensating']
const STUCK_STATUSES: readonly SagaStatus[] = ['pending', 'running', 'compensating']

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`)
}

/**
 * The filter as one WHERE clause per status (or one clause when the status is free).
 * One branch per status lets each use sagas_status_id (status, id) in id order; the
 * caller unions them, so the newest N come out of N index entries per status.
 * Null when the filter cannot match anything.
 */
function whereBranches(filter: SagaFilter, p: Params, after?: string): string[] | null {
  const common: string[] = []
  if (filter.definition !== undefined) common.push(`definition = ${p.add(filter.definition)}`)
  if (filter.version !== undefined) common.push(`version = ${p.add(filter.version)}`)
  if (filter.since) common.push(`id >= ${p.add(uuidV7Floor(filter.since))}::uuid`)
  if (after !== undefined) common.push(`id < ${p.add(after)}::uuid`)
  if (filter.failing) common.push('last_error IS NOT NULL')
  common.push(...searchConditions(filter, (v) => p.add(v)))
  if (filter.error) {
    const pattern = p.add(`%${escapeLike(filter.error)}%`)
    common.push(`(last_error ILIKE ${pattern} OR reason ILIKE ${pattern})`)
  }

  let statuses: readonly SagaStatus[] | null = filter.status?.length ? SAGA_STATUSES.filter((s) => filter.status!.includes(s)) : null
  const narrow = (to: readonly SagaStatus[]) => (statuses = (statuses ?? SAGA_STATUSES).filter((s) => to.includes(s)))
  if (filter.failing) narrow(FAILING_STATUSES)
  let cutoff: string | undefined
  if (filter.stuckAfterMs !== undefined) {
    narrow(STUCK_STATUSES)
    cutoff = `now() - ${p.add(filter.stuckAfterMs)} * interval '1 millisecond'`
  }
  if (statuses === null) return [common.length ? common.join(' AND ') : 'true']
  if (statuses.length === 0) return null
  return statuses.map((s) => {
    const conds = [`status = ${p.add(s)}`, ...common]
    // A pending saga nobody picked up is late on due_at; an active one has stopped updating.
    if (cutoff) conds.push(s === 'pending' ? `due_at < ${cutoff}` : `updated_at < ${cutoff}`)
    return conds.join(' AND ')
  })
}

function checkPage(page: PageOptions): string | undefined {
  if (!Number.isInteger(page.limit) || page.limit < 1) throw new UsageError(`limit must be a positive integer, got ${page.limit}`)
  if (page.after === undefined) return undefined
  const after = normalizeUuid(page.after)
  if (!after) throw new UsageError(`invalid cursor "${page.after}": --after takes the full saga id printed as "next"`)
  return after
}

/** The statement a page of `saga list` runs (exported so a test can EXPLAIN it); null when nothing can match. */
export function pageQuery(columns: string, filter: SagaFilter, page: PageOptions): { sql: string; values: unknown[] } | null {
  const after = checkPage(page)
  const p = new Params()
  const branches = whereBranches(filter, p, after)
  if (!branches) return null
  const limit = p.add(page.limit + 1)
  const select = (where: string) => `SELECT ${columns} FROM {{schema}}.sagas WHERE ${where} ORDER BY id DESC LIMIT ${limit}`
  const sql = branches.length === 1 ? select(branches[0]!) : `${branches.map((b) => `(${select(b)})`).join(' UNION ALL ')} ORDER BY id DESC LIMIT ${limit}`
  return { sql, values: p.values }
}

async function selectPage(q: Queryable, columns: string, filter: SagaFilter, page: PageOptions): Promise<Array<Record<string, unknown>>> {
  const query = pageQuery(columns, filter, page)
  return query ? (await q.query(query.sql, query.values)).rows : []
}

function toPage<T>(items: T[], limit: number, idOf: (t: T) => string): Page<T> {
  if (items.length <= limit) return { items, next: null }
  const shown = items.slice(0, limit)
  return { items: shown, next: idOf(shown[shown.length - 1]!) }
}

/** Newest first, keyset-paginated on the id; without their inputs (`getSaga` has them). */
export async function listSagas(q: Queryable, filter: SagaFilter, page: PageOptions): Promise<Page<Saga>> {
  const rows = await selectPage(q, SAGA_LIST_COLUMNS, filter, page)
  return toPage(rows.map(toSaga), page.limit, (s) => s.id)
}

/** Like listSagas, ids only: covered by the (status, id) index when the filter is on status alone. */
export async function listSagaIds(q: Queryable, filter: SagaFilter, page: PageOptions): Promise<Page<string>> {
  const rows = await selectPage(q, 'id', filter, page)
  return toPage(
    rows.map((r) => r.id as string),
    page.limit,
    (id) => id,
  )
}

export async function countSagas(q: Queryable, filter: SagaFilter): Promise<number> {
  const p = new Params()
  const branches = whereBranches(filter, p)
  if (!branches) return 0
  const sql = `SELECT ${branches.map((b) => `(SELECT count(*) FROM {{schema}}.sagas WHERE ${b})`).join(' + ')} AS n`
  const res = await q.query<{ n: number | string }>(sql, p.values)
  return Number(res.rows[0]?.n ?? 0)
}

export const COUNT_GROUPINGS = ['status', 'definition', 'step', 'error'] as const
export type CountGrouping = (typeof COUNT_GROUPINGS)[number]

export interface CountGroup {
  /** The status, definition, step name or normalised error; null for sagas with no step or no error. */
  key: string | null
  count: number
}

export interface SagaCounts {
  by: CountGrouping
  total: number
  groups: CountGroup[]
}

// What each grouping counts by; `s` is the sagas table. A step is the one being run or
// compensated, or the one a suspended or failed saga stopped at.
const GROUP_KEY: Record<CountGrouping, string> = {
  status: 's.status',
  definition: 's.definition',
  step: 's.step_name',
  error: NORMALISED_REASON,
}

/**
 * The sagas a filter selects, counted by `by` in SQL: one GROUP BY over the same
 * per-status branches as listSagas, so no row leaves the database. Status groups come
 * in lifecycle order; the others largest first.
 */
export async function countSagasBy(q: Queryable, filter: SagaFilter, by: CountGrouping = 'status'): Promise<SagaCounts> {
  const p = new Params()
  const branches = whereBranches(filter, p)
  if (!branches) return { by, total: 0, groups: [] }
  const inner = branches.map((b) => `SELECT ${GROUP_KEY[by]} AS k FROM {{schema}}.sagas s WHERE ${b}`).join(' UNION ALL ')
  const res = await q.query<{ k: string | null; n: number | string }>(`SELECT k, count(*) AS n FROM (${inner}) g GROUP BY k`, p.values)
  const groups = res.rows.map((r) => ({ key: r.k, count: Number(r.n) }))
  const rank = (k: string | null) => (by === 'status' ? SAGA_STATUSES.indexOf(k as SagaStatus) : 0)
  groups.sort((a, b) => rank(a.key) - rank(b.key) || b.count - a.count || String(a.key ?? '').localeCompare(String(b.key ?? '')))
  return { by, total: groups.reduce((n, g) => n + g.count, 0), groups }
}

export async function getSaga(q: Queryable, id: string): Promise<Saga | null> {
  const res = await q.query(`SELECT ${SAGA_COLUMNS} FROM {{schema}}.sagas WHERE id = $1`, [id])
  return res.rows[0] ? toSaga(res.rows[0]) : null
}

/** By step index, the action before its compensation. */
export async function getSteps(q: Queryable, sagaId: string): Promise<StepRecord[]> {
  const res = await q.query(`SELECT ${STEP_COLUMNS} FROM {{schema}}.steps WHERE saga_id = $1 ORDER BY step_index, phase = 'compensation'`, [sagaId])
  return res.rows.map(toStep)
}

/** The journal in commit order; `afterId` continues from the last event seen. */
export async function getEvents(q: Queryable, sagaId: string, opts: { afterId?: number; limit?: number } = {}): Promise<SagaEvent[]> {
  const res = await q.query(`SELECT ${EVENT_COLUMNS} FROM {{schema}}.events WHERE saga_id = $1 AND id > $2 ORDER BY id LIMIT $3`, [
    sagaId,
    opts.afterId ?? 0,
    opts.limit ?? null,
  ])
  return res.rows.map(toEvent)
}

/** The latest `n` events, oldest first. */
export async function getLastEvents(q: Queryable, sagaId: string, n: number): Promise<SagaEvent[]> {
  const res = await q.query(`SELECT ${EVENT_COLUMNS} FROM {{schema}}.events WHERE saga_id = $1 ORDER BY id DESC LIMIT $2`, [sagaId, n])
  return res.rows.map(toEvent).reverse()
}

/** A time the saga spent suspended, waiting for a person; `to` is null while it still is. */
export interface Suspension {
  from: Date
  to: Date | null
}

/** Each suspension of a saga, ended by the saga-level event that moved it on (a retry, skip, compensation or abort). */
export async function getSuspensions(q: Queryable, sagaId: string): Promise<Suspension[]> {
  const res = await q.query<{ from: Date | string; to: Date | string | null }>(
    `SELECT s.at AS "from",
       (SELECT min(e.at) FROM {{schema}}.events e
        WHERE e.saga_id = s.saga_id AND e.id > s.id
          AND e.type IN ('saga.resumed', 'saga.compensating', 'saga.failed', 'saga.completed', 'saga.compensated')) AS "to"
     FROM {{schema}}.events s WHERE s.saga_id = $1 AND s.type = 'saga.suspended' ORDER BY s.id`,
    [sagaId],
  )
  return res.rows.map((r) => ({ from: new Date(r.from), to: r.to === null ? null : new Date(r.to) }))
}
