import { createRoute } from '@hono/zod-openapi'
import { checkHealth } from '../../db/queries/health.js'
import { HealthSchema } from '../schemas.js'
import { ERRORS, json, type Api, type Deps } from './common.js'

const health = createRoute({
  method: 'get',
  path: '/v1/health',
  summary: 'The checks and alert rules of `sagactl health`.',
  responses: { 200: json(HealthSchema, 'Healthy.'), ...ERRORS, 503: json(HealthSchema, 'Unhealthy: the failing rules say why (or an error body when the database is unreachable).') },
})

export function systemRoutes(app: Api, { db, health: thresholds }: Deps): void {
  app.openapi(health, async (c) => {
    const report = await checkHealth(db, thresholds)
    return c.json(report, report.healthy ? 200 : 503)
  })
}
