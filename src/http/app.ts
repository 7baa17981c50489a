import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { DEFAULT_THRESHOLDS, type HealthThresholds } from '../db/queries/health.js'
import type { Database } from '../db/types.js'
import { Engine } from '../engine/engine.js'
import { errorLine, NotFoundError, UsageError } from '../errors.js'
import { bearerAuth, type AuthEnv } from './auth.js'
import { HttpError, sendError, statusOf } from './errors.js'
import type { Deps } from './routes/common.js'
import { operateRoutes } from './routes/operate.js'
import { operatorDayRoutes } from './routes/operator-day.js'
import { sagaRoutes } from './routes/sagas.js'
import { systemRoutes } from './routes/system.js'
import { POLL_ONLY_MS, SagaWatch } from './watch.js'

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

export interface ApiOptions {
  /** Largest request body (the saga input is most of it). */
  maxBodyBytes?: number
  health?: HealthThresholds
  version?: string
  /** Where unexpected errors are reported (their details never go to the client). */
  log?: (line: string) => void
}

const DOC = (version: string) => ({
  openapi: '3.1.0',
  info: {
    title: 'sagactl',
    version,
    description: 'Start, follow and repair sagas. Every request needs `Authorization: Bearer <token>` (`sagactl token create`).',
  },
  security: [{ bearer: [] }],
})

/**
 * The HTTP API over the same engine and query functions as the CLI. Routes, request
 * validation and the OpenAPI document all come from the zod schemas in schemas.ts.
 */
export function createApi(db: Database, opts: ApiOptions = {}): { app: OpenAPIHono<AuthEnv>; watch: SagaWatch; document: () => unknown } {
  const log = opts.log ?? (() => {})
  const watch = new SagaWatch(db, (err) => log(`live updates unavailable (${errorLine(err)}): waiting requests and event streams re-read every ${POLL_ONLY_MS / 1000}s`))
  const deps: Deps = { db, engine: new Engine(db), watch, health: opts.health ?? DEFAULT_THRESHOLDS }
  const app = new OpenAPIHono<AuthEnv>({
    defaultHook: (result, c) => {
      if (result.success) return undefined
      const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : result.target}: ${i.message}`)
      return sendError(c, new UsageError(`invalid request: ${problems.join('; ')}`))
    },
  })
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'A token from `sagactl token create`.' })

  app.use('/v1/*', bearerAuth(db))
  const maxSize = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const tooLarge = (c: Context) => sendError(c, new HttpError(413, 'too_large', `request body over ${maxSize} bytes`, 'keep large documents out of the saga input; pass a reference'))
  const counted = bodyLimit({ maxSize, onError: tooLarge })
  app.use('/v1/*', (c, next) => {
    // A body of a stated length is judged by its header alone: asking the request for its
    // body stream (as bodyLimit does first) builds a whole WHATWG Request per request,
    // most of the server's CPU for a start. Only a chunked body is counted as it arrives.
    if (c.req.header('transfer-encoding') !== undefined) return counted(c, next)
    const length = c.req.header('content-length')
    if (length !== undefined && !(Number(length) <= maxSize)) return Promise.resolve(tooLarge(c))
    return next()
  })
  operatorDayRoutes(app, deps)
  sagaRoutes(app, deps)
  operateRoutes(app, deps)
  systemRoutes(app, deps)
  app.doc31('/v1/openapi.json', DOC(opts.version ?? '0.0.0'))

  app.notFound((c) => sendError(c, new NotFoundError(`no route ${c.req.method} ${c.req.path}`, 'see GET /v1/openapi.json')))
  app.onError((err, c) => {
    if (statusOf(err) >= 500 && statusOf(err) !== 503) log(`${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`)
    return sendError(c, err)
  })
  return { app, watch, document: () => app.getOpenAPI31Document(DOC(opts.version ?? '0.0.0')) }
}
