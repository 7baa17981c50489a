import { createRoute } from '@hono/zod-openapi'
import { getIntervention, listInterventions, resolveInterventionId } from '../../db/queries/interventions.js'
import { resolveSagaId } from '../../db/queries/sagas.js'
import { NotFoundError, UsageError } from '../../errors.js'
import {
  ActionParamSchema,
  ActionRequestSchema,
  IdParamSchema,
  InterventionListQuerySchema,
  InterventionPageSchema,
  ResolveRequestSchema,
  SagaSchema,
} from '../schemas.js'
import { CONFLICT, ERRORS, NOT_FOUND, TOO_LARGE, json, jsonBody, type Api, type Deps } from './common.js'

const act = createRoute({
  method: 'post',
  path: '/v1/sagas/{id}/{action}',
  summary: 'retry, compensate, skip or abort a saga (the engine calls of `sagactl saga retry|compensate|skip|abort`), audited under the token name.',
  description: 'skip needs step and reason; abort needs reason and force: true (it marks the saga failed without compensating).',
  request: { params: ActionParamSchema, ...jsonBody(ActionRequestSchema) },
  responses: { 200: json(SagaSchema, 'The saga after the action.'), ...ERRORS, ...NOT_FOUND, ...CONFLICT, ...TOO_LARGE },
})

const interventions = createRoute({
  method: 'get',
  path: '/v1/interventions',
  summary: 'The manual-intervention queue, newest first (open by default).',
  request: { query: InterventionListQuerySchema },
  responses: { 200: json(InterventionPageSchema, 'One page.'), ...ERRORS },
})

const resolve = createRoute({
  method: 'post',
  path: '/v1/interventions/{id}/resolve',
  summary: 'Close an intervention by acting on its suspended saga, audited under the token name.',
  request: { params: IdParamSchema, ...jsonBody(ResolveRequestSchema) },
  responses: { 200: json(SagaSchema, 'The saga after the action.'), ...ERRORS, ...NOT_FOUND, ...CONFLICT, ...TOO_LARGE },
})

export function operateRoutes(app: Api, { db, engine }: Deps): void {
  app.openapi(act, async (c) => {
    const { id: given, action } = c.req.valid('param')
    const body = c.req.valid('json')
    const id = await resolveSagaId(db, given)
    const operator = c.get('caller').name
    switch (action) {
      case 'retry':
        return c.json((await engine.retry(id, { operator, reason: body.reason, step: body.step })) as never, 200)
      case 'compensate':
        return c.json((await engine.compensate(id, { operator, reason: body.reason })) as never, 200)
      case 'skip':
        if (!body.step || !body.reason) throw new UsageError('skip needs step (the failed step) and reason')
        return c.json((await engine.skip(id, { operator, step: body.step, reason: body.reason })) as never, 200)
      case 'abort':
        if (!body.reason) throw new UsageError('abort needs a reason')
        if (body.force !== true) throw new UsageError('abort marks the saga failed WITHOUT compensating: send force: true', 'to roll it back instead, use compensate')
        return c.json((await engine.abort(id, { operator, reason: body.reason })) as never, 200)
    }
  })

  app.openapi(interventions, async (c) => {
    const q = c.req.valid('query')
    const page = await listInterventions(db, { status: q.status, definition: q.definition, limit: q.limit, after: q.after })
    return c.json(page as never, 200)
  })

  app.openapi(resolve, async (c) => {
    const id = await resolveInterventionId(db, c.req.valid('param').id)
    const intervention = await getIntervention(db, id)
    if (!intervention) throw new NotFoundError(`no intervention matches "${c.req.valid('param').id}"`)
    const { action, note } = c.req.valid('json')
    const saga = await engine.resolveIntervention(id, { operator: c.get('caller').name, action, note })
    return c.json(saga as never, 200)
  })
}
