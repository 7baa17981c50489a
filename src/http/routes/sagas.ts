import { createRoute } from '@hono/zod-openapi'
import { streamSSE } from 'hono/streaming'
import { openInterventionForSaga } from '../../db/queries/interventions.js'
import { forksOf } from '../../db/repairs.js'
import { getEvents, getSaga, getSteps, listSagas, resolveSagaId, type SagaFilter } from '../../db/queries/sagas.js'
import { parseDuration } from '../../engine/duration.js'
import { parseWhere, tagsFromTexts } from '../../engine/search.js'
import { SAGA_STATUSES, TERMINAL_STATUSES, type Saga, type SagaStatus } from '../../engine/types.js'
import { NotFoundError, UsageError } from '../../errors.js'
import {
  EventPageSchema,
  EventsQuerySchema,
  IdParamSchema,
  SagaDetailSchema,
  SagaGetQuerySchema,
  SagaListQuerySchema,
  SagaPageSchema,
  SagaSchema,
  StartRequestSchema,
} from '../schemas.js'
import { CONFLICT, ERRORS, NOT_FOUND, TOO_LARGE, json, jsonBody, type Api, type Deps } from './common.js'

const MAX_WAIT_MS = 5 * 60_000
const EVENT_BATCH = 500
const KEEPALIVE_MS = 15_000

/** A duration from the query string; a bad one is a 400 naming the parameter. */
export function duration(name: string, text: string): number {
  try {
    return parseDuration(text)
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`)
  }
}

/** The query string of GET /v1/sagas as the same filter `saga list` builds from its flags. */
export function filterFromQuery(q: {
  status?: string; definition?: string; version?: number; since?: string; stuck?: 'true' | 'false'; stuckAfter?: string; failing?: 'true' | 'false'; error?: string
  key?: string; tag?: string | string[]; where?: string | string[]
}, now = new Date()): SagaFilter {
  const filter: SagaFilter = {}
  if (q.status) {
    const wanted = [...new Set(q.status.split(',').map((s) => s.trim()).filter(Boolean))]
    const bad = wanted.filter((s) => !SAGA_STATUSES.includes(s as SagaStatus))
    if (bad.length) throw new UsageError(`status: unknown status "${bad[0]}" (use ${SAGA_STATUSES.join(', ')})`)
    filter.status = wanted as SagaStatus[]
  }
  if (q.definition !== undefined) filter.definition = q.definition
  if (q.version !== undefined) {
    if (q.definition === undefined) throw new UsageError('version: give definition too')
    filter.version = q.version
  }
  if (q.since !== undefined) filter.since = new Date(now.getTime() - duration('since', q.since))
  if (q.stuck === 'true') filter.stuckAfterMs = q.stuckAfter ? duration('stuckAfter', q.stuckAfter) : 600_000
  if (q.failing === 'true') filter.failing = true
  if (q.error) filter.error = q.error
  const all = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])
  if (q.key !== undefined) filter.key = q.key
  if (all(q.tag).length) filter.tags = tagsFromTexts(all(q.tag))
  if (all(q.where).length) filter.where = all(q.where).map(parseWhere)
  return filter
}

const atRest = (s: Saga) => TERMINAL_STATUSES.includes(s.status) || s.status === 'suspended'

const start = createRoute({
  method: 'post',
  path: '/v1/sagas',
  summary: 'Start a saga (what `sagactl saga start` does).',
  request: jsonBody(StartRequestSchema),
  responses: {
    201: json(SagaSchema, 'Created: a pending saga a worker will run.'),
    200: json(SagaSchema, 'The key was used before: the saga it started.'),
    ...ERRORS,
    ...NOT_FOUND,
    ...CONFLICT,
    ...TOO_LARGE,
  },
})

const list = createRoute({
  method: 'get',
  path: '/v1/sagas',
  summary: 'List sagas, newest first (the filters and keyset paging of `sagactl saga list`).',
  request: { query: SagaListQuerySchema },
  responses: { 200: json(SagaPageSchema, 'One page.'), ...ERRORS },
})

const show = createRoute({
  method: 'get',
  path: '/v1/sagas/{id}',
  summary: 'One saga with its steps and open intervention; ?wait= holds until it is finished or suspended.',
  request: { params: IdParamSchema, query: SagaGetQuerySchema },
  responses: { 200: json(SagaDetailSchema, 'The saga (with ?wait=, at rest or as it was when the wait ended: see status).'), ...ERRORS, ...NOT_FOUND },
})

const events = createRoute({
  method: 'get',
  path: '/v1/sagas/{id}/events',
  summary: "The saga's journal; with Accept: text/event-stream, a live stream that ends when the saga does.",
  request: { params: IdParamSchema, query: EventsQuerySchema },
  responses: {
    200: {
      description: 'A page of events, or a Server-Sent Events stream: each event as `event: <type>`, `id: <event id>`, `data: <Event JSON>`, then `event: end` with the status.',
      content: { 'application/json': { schema: EventPageSchema }, 'text/event-stream': { schema: { type: 'string' } } },
    },
    ...ERRORS,
    ...NOT_FOUND,
  },
})

export function sagaRoutes(app: Api, { db, engine, watch }: Deps): void {
  app.openapi(start, async (c) => {
    const body = c.req.valid('json')
    const { saga, created } = await engine.start(body.definition, body.input === undefined ? {} : body.input, { key: body.key, version: body.version })
    return c.json(saga as never, created ? 201 : 200)
  })

  app.openapi(list, async (c) => {
    const q = c.req.valid('query')
    const page = await listSagas(db, filterFromQuery(q), { limit: q.limit, after: q.after })
    return c.json(page as never, 200)
  })

  app.openapi(show, async (c) => {
    const id = await resolveSagaId(db, c.req.valid('param').id)
    const { wait } = c.req.valid('query')
    const waitMs = wait === undefined ? 0 : Math.min(MAX_WAIT_MS, duration('wait', wait))
    const end = Date.now() + waitMs
    const signal = c.req.raw.signal
    let saga: Saga | null
    for (;;) {
      saga = await getSaga(db, id)
      if (!saga) throw new NotFoundError(`saga ${id} not found`)
      if (atRest(saga) || Date.now() >= end || watch.isClosed || signal.aborted) break
      await watch.changed(id, Math.min(1_000, end - Date.now()))
    }
    const [steps, intervention, forks] = await Promise.all([getSteps(db, id), openInterventionForSaga(db, id), forksOf(db, id)])
    return c.json({ ...saga, steps, intervention, forks } as never, 200)
  })

  app.openapi(events, async (c) => {
    const id = await resolveSagaId(db, c.req.valid('param').id)
    const q = c.req.valid('query')
    if (!(c.req.header('accept') ?? '').includes('text/event-stream')) {
      const rows = await getEvents(db, id, { afterId: q.after, limit: q.limit + 1 })
      const items = rows.slice(0, q.limit)
      return c.json({ items, next: rows.length > q.limit ? String(items[items.length - 1]!.id) : null } as never, 200)
    }
    // A reconnecting EventSource sends the last id it saw.
    const resume = Number(c.req.header('last-event-id'))
    let last = Number.isInteger(resume) && resume > 0 ? resume : (q.after ?? 0)
    return streamSSE(c, async (stream) => {
      let aborted = false
      stream.onAbort(() => {
        aborted = true
      })
      let saga: Saga | null = null
      let wrote = Date.now()
      while (!aborted) {
        // The status first: a transition commits with its events, so after a terminal status the events read are the last.
        saga = await getSaga(db, id)
        for (;;) {
          const batch = await getEvents(db, id, { afterId: last, limit: EVENT_BATCH })
          for (const e of batch) {
            await stream.writeSSE({ id: String(e.id), event: e.type, data: JSON.stringify(e) })
            last = e.id
            wrote = Date.now()
          }
          if (batch.length < EVENT_BATCH) break
        }
        if (!saga || TERMINAL_STATUSES.includes(saga.status) || watch.isClosed) break
        await watch.changed(id, KEEPALIVE_MS)
        if (Date.now() - wrote >= KEEPALIVE_MS) {
          await stream.write(': keepalive\n\n')
          wrote = Date.now()
        }
      }
      await stream.writeSSE({ event: 'end', data: JSON.stringify({ status: saga?.status ?? null, lastEventId: last }) })
    })
  })
}
