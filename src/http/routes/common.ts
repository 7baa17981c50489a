import type { OpenAPIHono, z } from '@hono/zod-openapi'
import type { HealthThresholds } from '../../db/queries/health.js'
import type { Database } from '../../db/types.js'
import type { Engine } from '../../engine/engine.js'
import type { AuthEnv } from '../auth.js'
import { ErrorSchema } from '../schemas.js'
import type { SagaWatch } from '../watch.js'

export type Api = OpenAPIHono<AuthEnv>

export interface Deps {
  db: Database
  engine: Engine
  watch: SagaWatch
  health: HealthThresholds
}

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description })

const error = (description: string) => json(ErrorSchema, description)

/** The error responses every authenticated route can give. */
export const ERRORS = {
  400: error('Invalid request: the message says what to change.'),
  401: error('No token, or an unknown or revoked one.'),
  403: error("The token's role does not allow this request."),
  503: error('The database is unreachable or not migrated.'),
} as const

export const NOT_FOUND = { 404: error('Nothing matches: no such saga, intervention, definition or version.') } as const
export const CONFLICT = { 409: error("The saga's state does not allow it, or it changed meanwhile.") } as const
export const TOO_LARGE = { 413: error('The request body is over the size limit.') } as const

export const jsonBody = <T extends z.ZodType>(schema: T) => ({ body: { content: { 'application/json': { schema } }, required: true } })
