import type { MiddlewareHandler } from 'hono'
import { authenticateToken, roleAllows, tokenHash, type TokenRole } from '../db/queries/tokens.js'
import type { Queryable } from '../db/types.js'
import { HttpError } from './errors.js'

export interface Caller {
  name: string
  role: TokenRole
}

export type AuthEnv = { Variables: { caller: Caller } }

/** How long a checked token is trusted without asking the database again: the delay of a revocation. */
export const TOKEN_CACHE_MS = 5_000

/**
 * Bearer tokens with roles: GET needs read, POST /v1/sagas needs start, every other POST
 * needs operate. A token found in the database is cached briefly, so a start costs no
 * extra round trip; unknown tokens are never cached.
 */
export function bearerAuth(db: Queryable, now: () => number = Date.now): MiddlewareHandler<AuthEnv> {
  const cache = new Map<string, { caller: Caller; until: number }>()
  return async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!match) throw new HttpError(401, 'unauthorized', 'missing bearer token', 'send Authorization: Bearer <token> (sagactl token create)')
    const secret = match[1]!
    const key = tokenHash(secret)
    let hit = cache.get(key)
    if (!hit || hit.until < now()) {
      const found = await authenticateToken(db, secret)
      if (!found) {
        cache.delete(key)
        throw new HttpError(401, 'unauthorized', 'unknown or revoked token')
      }
      hit = { caller: found, until: now() + TOKEN_CACHE_MS }
      if (cache.size > 10_000) cache.clear()
      cache.set(key, hit)
    }
    const need = requiredRole(c.req.method, c.req.path)
    if (!roleAllows(hit.caller.role, need)) {
      throw new HttpError(403, 'forbidden', `token "${hit.caller.name}" has role ${hit.caller.role}; this request needs ${need}`)
    }
    c.set('caller', hit.caller)
    await next()
  }
}

export function requiredRole(method: string, path: string): TokenRole {
  if (method === 'GET' || method === 'HEAD') return 'read'
  if (method === 'POST' && path.replace(/\/+$/, '') === '/v1/sagas') return 'start'
  return 'operate'
}
