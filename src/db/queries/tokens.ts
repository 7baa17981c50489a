import { createHash, randomBytes } from 'node:crypto'
import { ConflictError, NotFoundError, UsageError } from '../../errors.js'
import { recordAudit } from '../audit.js'
import type { Database, Queryable } from '../types.js'

/** What a token may do over HTTP: read may GET, start may also start sagas, operate may also act. */
export type TokenRole = 'read' | 'start' | 'operate'
export const TOKEN_ROLES: readonly TokenRole[] = ['read', 'start', 'operate']

export interface ApiToken {
  name: string
  role: TokenRole
  createdAt: Date
  createdBy: string
  lastUsedAt: Date | null
}

/** The prefix makes a leaked token easy to recognise (and to find with a secret scanner). */
const PREFIX = 'sgt_'
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

export function roleAllows(have: TokenRole, need: TokenRole): boolean {
  return TOKEN_ROLES.indexOf(have) >= TOKEN_ROLES.indexOf(need)
}

/** Only this digest is stored: the token itself is shown once, at creation. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v)))

function toToken(r: Record<string, unknown>): ApiToken {
  return {
    name: r.name as string,
    role: r.role as TokenRole,
    createdAt: date(r.created_at)!,
    createdBy: r.created_by as string,
    lastUsedAt: date(r.last_used_at),
  }
}

/** Creates a token (audited) and returns it with its secret, which is never stored. */
export async function createToken(db: Database, input: { name: string; role: TokenRole; operator: string }): Promise<ApiToken & { token: string }> {
  if (!NAME.test(input.name)) throw new UsageError(`invalid token name "${input.name}": use letters, digits, ".", "_" and "-" (at most 100)`)
  if (!TOKEN_ROLES.includes(input.role)) throw new UsageError(`invalid role "${input.role}": use ${TOKEN_ROLES.join(', ')}`)
  const token = `${PREFIX}${randomBytes(32).toString('base64url')}`
  return db.transaction(async (tx) => {
    const res = await tx.query(
      `INSERT INTO {{schema}}.api_tokens (name, role, token_hash, created_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO NOTHING
       RETURNING name, role, created_at, created_by, last_used_at`,
      [input.name, input.role, tokenHash(token), input.operator],
    )
    if (!res.rows[0]) throw new ConflictError(`a token named "${input.name}" already exists`, `revoke it first: sagactl token revoke ${input.name}`)
    await recordAudit(tx, { operator: input.operator, action: 'token.create', target: input.name, details: { role: input.role } })
    return { ...toToken(res.rows[0]), token }
  })
}

export async function listTokens(q: Queryable): Promise<ApiToken[]> {
  const res = await q.query(`SELECT name, role, created_at, created_by, last_used_at FROM {{schema}}.api_tokens ORDER BY name`)
  return res.rows.map(toToken)
}

/** Deletes the token (audited): requests with it are refused from then on. */
export async function revokeToken(db: Database, name: string, operator: string): Promise<ApiToken> {
  return db.transaction(async (tx) => {
    const res = await tx.query(`DELETE FROM {{schema}}.api_tokens WHERE name = $1 RETURNING name, role, created_at, created_by, last_used_at`, [name])
    if (!res.rows[0]) throw new NotFoundError(`no token named "${name}"`, 'list them: sagactl token list')
    const token = toToken(res.rows[0])
    await recordAudit(tx, { operator, action: 'token.revoke', target: name, details: { role: token.role } })
    return token
  })
}

/** The token a secret belongs to, or null; marks it used (at most once a minute, so requests do not each write). */
export async function authenticateToken(q: Queryable, secret: string): Promise<{ name: string; role: TokenRole } | null> {
  if (!secret.startsWith(PREFIX)) return null
  const res = await q.query<{ name: string; role: TokenRole }>(
    `WITH t AS (SELECT name, role, last_used_at FROM {{schema}}.api_tokens WHERE token_hash = $1),
          used AS (UPDATE {{schema}}.api_tokens a SET last_used_at = now() FROM t
                    WHERE a.name = t.name AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute'))
     SELECT name, role FROM t`,
    [tokenHash(secret)],
    { name: 'sagactl_token' },
  )
  return res.rows[0] ?? null
}
