import { createRoute } from '@hono/zod-openapi'
import { getIntervention, listInterventions, resolveInterventionId } from '../../db/queries/interventions.js'
import { resolveSagaId } from '../../db/queries/sagas.js'
import { forkPlan, forkSaga } from '../../engine/fork.js'
import { migratePlan, migrateSaga } from '../../engine/migrate.js'
import { rerunFromStep } from '../../engine/rerun.js'
import { NotFoundError, UsageError } from '../../errors.js'
import {
  ActionParamSchema,
  ActionRequestSchema,
  ForkRequestSchema,
  ForkResultSchema,
  IdParamSchema,
  InterventionListQuerySchema,
  InterventionPageSchema,
  MigrateRequestSchema,
  MigrateResultSchema,
  ResolveRequestSchema,
  SagaSchema,
} from '../schemas.js'
import { CONFLICT, ERRORS, NOT_FOUND, TOO_LARGE, json, jsonBody, type Api, type Deps } from './common.js'

const act = createRoute({
  method: 'post',
  path: '/v1/sagas/{id}/{action}',
  summary: 'retry, compensate, skip or abort a saga (the engine calls of `sagactl saga retry|compensate|skip|abort`), audited under the token name.',
  description:
    'retry takes fromStep (rerun from that step) and input (replace the saga input first); skip needs step and reason, and takes output (what later steps read in results); ' +
    'abort needs reason and force: true (it marks the saga failed without compensating).',
  request: { params: ActionParamSchema, ...jsonBody(ActionRequestSchema) },
  responses: { 200: json(SagaSchema, 'The saga after the action.'), ...ERRORS, ...NOT_FOUND, ...CONFLICT, ...TOO_LARGE },
})

const fork = createRoute({
  method: 'post',
  path: '/v1/sagas/{id}/fork',
  summary: 'Start a new saga from a step of this one (`sagactl saga fork`): the steps before it keep the original outputs and are not called again.',
  description:
    'dryRun: 200 with the plan (allowed false and the refusal when it would be refused), nothing started. Otherwise 201 with the plan and the fork, ' +
    'or 409 when refused (a kept step has not finished, or was compensated, in the original; or the key is taken). The original is not changed.',
  request: { params: IdParamSchema, ...jsonBody(ForkRequestSchema) },
  responses: { 200: json(ForkResultSchema, 'The dry run: the plan, saga null.'), 201: json(ForkResultSchema, 'The fork, and the plan it followed.'), ...ERRORS, ...NOT_FOUND, ...CONFLICT, ...TOO_LARGE },
})

const migrate = createRoute({
  method: 'post',
  path: '/v1/sagas/{id}/migrate',
  summary: 'Move a saga to another version of its definition (`sagactl saga migrate`), steps mapped by name.',
  description:
    'dryRun: the plan (allowed false and the refusal when it would be refused), nothing changed. Otherwise the plan and the saga on its new version, ' +
    'or 409 when refused (a step that ran is missing or reordered in the new version, or a call is in flight).',
  request: { params: IdParamSchema, ...jsonBody(MigrateRequestSchema) },
  responses: { 200: json(MigrateResultSchema, 'The plan, and the saga (null for a dry run).'), ...ERRORS, ...NOT_FOUND, ...CONFLICT, ...TOO_LARGE },
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
  // Before the {action} route, which would otherwise take these paths.
  app.openapi(fork, async (c) => {
    const id = await resolveSagaId(db, c.req.valid('param').id)
    const { dryRun, reason, ...opts } = c.req.valid('json')
    if (dryRun) return c.json({ plan: await forkPlan(engine, id, opts), saga: null } as never, 200)
    if (!reason) throw new UsageError('fork needs a reason')
    const made = await forkSaga(engine, id, { ...opts, operator: c.get('caller').name, reason })
    return c.json(made as never, 201)
  })

  app.openapi(migrate, async (c) => {
    const id = await resolveSagaId(db, c.req.valid('param').id)
    const { dryRun, reason, toVersion } = c.req.valid('json')
    const plan = await migratePlan(engine, id, toVersion)
    if (dryRun) return c.json({ plan, saga: null } as never, 200)
    if (!reason) throw new UsageError('migrate needs a reason')
    const saga = await migrateSaga(engine, id, { operator: c.get('caller').name, reason, toVersion })
    return c.json({ plan, saga } as never, 200)
  })

  app.openapi(act, async (c) => {
    const { id: given, action } = c.req.valid('param')
    const body = c.req.valid('json')
    const id = await resolveSagaId(db, given)
    const operator = c.get('caller').name
    switch (action) {
      case 'retry':
        if (body.fromStep) {
          if (body.step) throw new UsageError('give step (retry the failed step) or fromStep (rerun from a step), not both')
          return c.json((await rerunFromStep(engine, id, { operator, reason: body.reason, fromStep: body.fromStep, ...(body.input === undefined ? {} : { input: body.input }) })) as never, 200)
        }
        return c.json((await engine.retry(id, { operator, reason: body.reason, step: body.step, ...(body.input === undefined ? {} : { input: body.input }) })) as never, 200)
      case 'compensate':
        return c.json((await engine.compensate(id, { operator, reason: body.reason })) as never, 200)
      case 'skip':
        if (!body.step || !body.reason) throw new UsageError('skip needs step (the failed step) and reason')
        return c.json((await engine.skip(id, { operator, step: body.step, reason: body.reason, ...(body.output === undefined ? {} : { output: body.output }) })) as never, 200)
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
