import { UsageError } from '../../errors.js'
import type { Intervention, SagaStatus } from '../../engine/types.js'
import { toIntervention } from '../rows.js'
import type { Queryable } from '../types.js'
import { normalizeUuid, resolveIdPrefix, type Page } from './sagas.js'

/** An intervention with what the queue shows of its saga. */
export type InterventionItem = Intervention & {
  definition: string
  version: number
  sagaStatus: SagaStatus
  currentStep: string | null
}

export type InterventionStatusFilter = 'open' | 'resolved' | 'all'
export const INTERVENTION_STATUS_FILTERS: readonly InterventionStatusFilter[] = ['open', 'resolved', 'all']

export interface InterventionListOptions {
  status?: InterventionStatusFilter
  definition?: string
  limit: number
  /** The `next` cursor of the previous page: the last intervention id it showed. */
  after?: string
}

const ITEM_COLUMNS =
  'i.saga_id, i.id, i.status, i.reason, i.step, i.phase, i.created_at, i.resolved_at, i.resolved_by, i.action, i.note, s.definition, s.version, s.status AS saga_status, s.step_name'

function toItem(r: Record<string, unknown>): InterventionItem {
  return {
    ...toIntervention(r),
    definition: r.definition as string,
    version: r.version as number,
    sagaStatus: r.saga_status as SagaStatus,
    currentStep: (r.step_name as string | null) ?? null,
  }
}

/**
 * Newest first by creation time (the id breaks ties), keyset-paginated. The open queue is
 * served by interventions_status (status, created_at); the cursor is an intervention id.
 */
export async function listInterventions(q: Queryable, opts: InterventionListOptions): Promise<Page<InterventionItem>> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new UsageError(`limit must be a positive integer, got ${opts.limit}`)
  const status = opts.status ?? 'open'
  const params: unknown[] = []
  const add = (v: unknown) => `$${params.push(v)}`
  const conds: string[] = []
  if (status !== 'all') conds.push(`i.status = ${add(status)}`)
  if (opts.definition !== undefined) conds.push(`s.definition = ${add(opts.definition)}`)
  if (opts.after !== undefined) {
    const after = normalizeUuid(opts.after)
    if (!after) throw new UsageError(`invalid cursor "${opts.after}": --after takes the full intervention id printed as "next"`)
    const cursor = await q.query(`SELECT 1 FROM {{schema}}.interventions WHERE id = $1 LIMIT 1`, [after])
    if (!cursor.rows[0]) throw new UsageError(`invalid cursor "${opts.after}": no such intervention`)
    // Compared in SQL: created_at has microseconds that a JS Date would round away.
    conds.push(`(i.created_at, i.id) < (SELECT c.created_at, c.id FROM {{schema}}.interventions c WHERE c.id = ${add(after)}::uuid LIMIT 1)`)
  }
  const res = await q.query(
    `SELECT ${ITEM_COLUMNS} FROM {{schema}}.interventions i JOIN {{schema}}.sagas s ON s.id = i.saga_id
      ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''}
      ORDER BY i.created_at DESC, i.id DESC LIMIT ${add(opts.limit + 1)}`,
    params,
  )
  const items = res.rows.map(toItem)
  if (items.length <= opts.limit) return { items, next: null }
  const shown = items.slice(0, opts.limit)
  return { items: shown, next: shown[shown.length - 1]!.id }
}

export function resolveInterventionId(q: Queryable, prefix: string): Promise<string> {
  return resolveIdPrefix(q, 'interventions', 'intervention', prefix)
}

export async function getIntervention(q: Queryable, id: string): Promise<InterventionItem | null> {
  const res = await q.query(`SELECT ${ITEM_COLUMNS} FROM {{schema}}.interventions i JOIN {{schema}}.sagas s ON s.id = i.saga_id WHERE i.id = $1 LIMIT 1`, [id])
  return res.rows[0] ? toItem(res.rows[0]) : null
}

export async function openInterventionForSaga(q: Queryable, sagaId: string): Promise<InterventionItem | null> {
  const res = await q.query(
    `SELECT ${ITEM_COLUMNS} FROM {{schema}}.interventions i JOIN {{schema}}.sagas s ON s.id = i.saga_id WHERE i.saga_id = $1 AND i.status = 'open'`,
    [sagaId],
  )
  return res.rows[0] ? toItem(res.rows[0]) : null
}
