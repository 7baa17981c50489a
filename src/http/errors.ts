import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { ConflictError, DatabaseUnreachableError, NotFoundError, SagactlError, SchemaNotReadyError, UsageError } from '../errors.js'

/** An HTTP-only condition: no token, a token too weak for the route, a body over the limit. */
export class HttpError extends SagactlError {
  constructor(
    readonly status: 401 | 403 | 413 | 415,
    override readonly code: string,
    message: string,
    hint?: string,
  ) {
    super(message, hint)
  }
}

export interface ErrorBody {
  error: { code: string; message: string; hint: string | null }
}

/** The one mapping from the product's errors to status codes (the CLI maps the same errors to exit codes). */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status
  if (err instanceof UsageError || (err instanceof SagactlError && err.code === 'invalid_definition')) return 400
  if (err instanceof NotFoundError) return 404
  if (err instanceof ConflictError) return 409
  if (err instanceof DatabaseUnreachableError || err instanceof SchemaNotReadyError) return 503
  if (err instanceof HTTPException) return err.status
  return 500
}

export function errorBody(err: unknown): ErrorBody {
  if (err instanceof SagactlError) return { error: { code: err.code, message: err.message, hint: err.hint ?? null } }
  if (err instanceof HTTPException) return { error: { code: err.status === 400 ? 'usage' : 'http', message: err.message, hint: null } }
  return { error: { code: 'internal', message: 'unexpected error', hint: 'the server log has the details' } }
}

export function sendError(c: Context, err: unknown): Response {
  const status = statusOf(err)
  if (status === 401) c.header('WWW-Authenticate', 'Bearer realm="sagactl"')
  return c.json(errorBody(err), status as 400)
}
