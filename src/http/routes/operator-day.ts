import { createRoute, z } from '@hono/zod-openapi'
import { getDefinitionPair } from '../../db/definitions.js'
import { auditSagaId, listAuditEntries } from '../../db/queries/audit.js'
import { DEFAULT_THRESHOLDS } from '../../db/queries/health.js'
import { COUNT_GROUPINGS, countSagasBy, resolveSagaId } from '../../db/queries/sagas.js'
import { listWorkers } from '../../db/queries/workers.js'
import { diffDefinitions } from '../../engine/definition-diff.js'
import { deleteSaga } from '../../engine/delete.js'
import { IdParamSchema, SagaListQuerySchema, SagaStatusSchema } from '../schemas.js'
import { CONFLICT, ERRORS, NOT_FOUND, json, jsonBody, type Api, type Deps } from './common.js'
import { duration as ms, filterFromQuery } from './sagas.js'

/* The rest of an operator's day over HTTP: the engine and query calls of `saga count`, `saga delete`, `audit list`, `worker list` and `def diff`. */

const CountsSchema = z
  .object({
    by: z.enum(COUNT_GROUPINGS),
    total: z.int(),
    groups: z.array(z.object({ key: z.string().nullable(), count: z.int() })),
  })
  .openapi('SagaCounts', { description: 'What `sagactl saga count --json` prints.' })

const DeleteRequestSchema = z
  .object({
    reason: z.string().min(1).openapi({ description: 'Why, for the audit log.' }),
    force: z.literal(true).openapi({ description: 'Must be true: a delete cannot be undone.' }),
  })
  .openapi('DeleteRequest')

const DeletedSchema = z
  .object({
    id: z.string(),
    definition: z.string(),
    version: z.int(),
    status: SagaStatusSchema,
    key: z.string().nullable().openapi({ description: 'The start key, reserved from now on: a start with it is refused (409).' }),
    deletedAt: z.string(),
    deletedBy: z.string(),
  })
  .openapi('DeletedSaga')

const AuditQuerySchema = z.object({
  since: z.string().optional().openapi({ description: 'Only actions in this last period (1h, 7d).', example: '1h' }),
  operator: z.string().optional(),
  action: z.string().min(1).optional().openapi({ description: 'saga.retry, a family (saga) or a verb (retry).' }),
  saga: z.string().optional().openapi({ description: 'A saga id, unique prefix or key:<start key> (a deleted saga by full id or key).' }),
  limit: z.coerce.number().int().min(1).max(1000).default(50).openapi({ type: 'integer' }),
  after: z.coerce.number().int().min(1).optional().openapi({ type: 'integer', description: 'The "next" cursor of the previous page.' }),
})

const AuditPageSchema = z
  .object({
    items: z.array(
      z.object({
        id: z.int(),
        at: z.string(),
        operator: z.string(),
        action: z.string(),
        target: z.string(),
        sagaId: z.string().nullable(),
        reason: z.string().nullable(),
        details: z.record(z.string(), z.unknown()).nullable(),
      }),
    ),
    next: z.string().nullable(),
  })
  .openapi('AuditPage')

const WorkersSchema = z
  .object({
    items: z.array(
      z.object({
        id: z.string(),
        host: z.string(),
        pid: z.int(),
        concurrency: z.int(),
        version: z.string().nullable(),
        state: z.enum(['live', 'silent', 'stopped']),
        startedAt: z.string(),
        heartbeatAt: z.string(),
        stoppedAt: z.string().nullable(),
        inFlight: z.int(),
        sagas: z.array(z.object({ id: z.string(), definition: z.string(), version: z.int(), status: SagaStatusSchema, currentStep: z.string().nullable(), leaseUntil: z.string().nullable() })),
      }),
    ),
  })
  .openapi('Workers')

const FieldChangeSchema = z.object({ field: z.string(), from: z.unknown().optional(), to: z.unknown().optional() })
const DiffSchema = z
  .object({
    name: z.string(),
    from: z.int(),
    to: z.int(),
    same: z.boolean(),
    changes: z.array(FieldChangeSchema),
    steps: z.array(
      z.object({
        step: z.string(),
        change: z.enum(['added', 'removed', 'changed']),
        fromIndex: z.int().nullable(),
        toIndex: z.int().nullable(),
        moved: z.boolean(),
        fields: z.array(FieldChangeSchema),
      }),
    ),
  })
  .openapi('DefinitionDiff')

const count = createRoute({
  method: 'get',
  path: '/v1/sagas/count',
  summary: 'Count the sagas the filters select, by status, definition, step or error (`sagactl saga count`).',
  request: { query: SagaListQuerySchema.omit({ limit: true, after: true }).extend({ by: z.enum(COUNT_GROUPINGS).default('status') }) },
  responses: { 200: json(CountsSchema, 'The counts.'), ...ERRORS },
})

const remove = createRoute({
  method: 'delete',
  path: '/v1/sagas/{id}',
  summary: 'Delete a finished saga (`sagactl saga delete`), audited under the token name; its start key stays reserved.',
  request: { params: IdParamSchema, ...jsonBody(DeleteRequestSchema) },
  responses: { 200: json(DeletedSchema, 'The saga is gone.'), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
})

const audit = createRoute({
  method: 'get',
  path: '/v1/audit',
  summary: 'Operator actions across sagas, newest first (`sagactl audit list`).',
  request: { query: AuditQuerySchema },
  responses: { 200: json(AuditPageSchema, 'One page.'), ...ERRORS, ...NOT_FOUND },
})

const workers = createRoute({
  method: 'get',
  path: '/v1/workers',
  summary: 'Live and recently stopped workers with the sagas each holds (`sagactl worker list`).',
  request: { query: z.object({ recent: z.string().optional().openapi({ description: 'Also workers stopped or silent within this period; default 1h.' }) }) },
  responses: { 200: json(WorkersSchema, 'The workers.'), ...ERRORS },
})

const diff = createRoute({
  method: 'get',
  path: '/v1/definitions/{name}/diff',
  summary: 'What changed between two stored versions of a definition (`sagactl def diff`).',
  request: {
    params: z.object({ name: z.string().openapi({ param: { name: 'name', in: 'path' } }) }),
    query: z.object({ from: z.coerce.number().int().min(1).openapi({ type: 'integer' }), to: z.coerce.number().int().min(1).optional().openapi({ type: 'integer', description: 'Default: the latest.' }) }),
  },
  responses: { 200: json(DiffSchema, 'The differences.'), ...ERRORS, ...NOT_FOUND },
})

/** Registered before the saga routes, so /v1/sagas/count is not taken for a saga id. */
export function operatorDayRoutes(app: Api, { db }: Deps): void {
  app.openapi(count, async (c) => {
    const q = c.req.valid('query')
    return c.json((await countSagasBy(db, filterFromQuery(q), q.by)) as never, 200)
  })

  app.openapi(remove, async (c) => {
    const id = await resolveSagaId(db, c.req.valid('param').id)
    return c.json((await deleteSaga(db, id, { operator: c.get('caller').name, reason: c.req.valid('json').reason })) as never, 200)
  })

  app.openapi(audit, async (c) => {
    const q = c.req.valid('query')
    const page = await listAuditEntries(db, {
      since: q.since === undefined ? undefined : new Date(Date.now() - ms('since', q.since)),
      operator: q.operator,
      action: q.action,
      sagaId: q.saga === undefined ? undefined : await auditSagaId(db, q.saga),
      limit: q.limit,
      after: q.after,
    })
    return c.json(page as never, 200)
  })

  app.openapi(workers, async (c) => {
    const { recent } = c.req.valid('query')
    const items = await listWorkers(db, { livenessMs: DEFAULT_THRESHOLDS.workerLivenessMs, recentMs: recent === undefined ? 3_600_000 : ms('recent', recent) })
    return c.json({ items } as never, 200)
  })

  app.openapi(diff, async (c) => {
    const { name } = c.req.valid('param')
    const q = c.req.valid('query')
    const [a, b] = await getDefinitionPair(db, name, q.from, q.to)
    return c.json(diffDefinitions(a, b) as never, 200)
  })
}
