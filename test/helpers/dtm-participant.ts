import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Database, Queryable } from '../../src/db/types.js'

export interface DtmRequest {
  method: string
  path: string
  query: Record<string, string>
  contentType: string | undefined
  body: string
}

/**
 * Bytes exactly as DTM's example participants send them. gin's c.JSON writes compact
 * JSON with this content type; WrapHandler maps nil to 200 `null`, ErrFailure to 409,
 * ErrOngoing to 425 and any other error to 500, each as {"error": ...}; WrapHandler2 and
 * the examples' middleware answer 200 {"dtm_result": ...}.
 */
export const GIN_JSON = 'application/json; charset=utf-8'
export const answers = {
  quickStart: { status: 200, body: '""' }, // quick_start.go: c.JSON(200, "")
  wrapNil: { status: 200, body: 'null' },
  wrapFailure: { status: 409, body: '{"error":"FAILURE"}' },
  wrapOngoing: { status: 425, body: '{"error":"ONGOING"}' },
  wrapError: (message: string) => ({ status: 500, body: JSON.stringify({ error: message }) }),
  result: (v: 'SUCCESS' | 'FAILURE' | 'ONGOING') => ({ status: 200, body: `{"dtm_result":"${v}"}` }),
  wrap2Failure: { status: 409, body: '{"dtm_result":"FAILURE","message":"FAILURE"}' },
} as const
export type Answer = { status: number; body: string; headers?: Record<string, string> }

async function readRequest(req: IncomingMessage): Promise<DtmRequest> {
  let body = ''
  req.setEncoding('utf8')
  for await (const chunk of req) body += chunk as string
  const url = new URL(req.url ?? '/', 'http://x')
  return { method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), contentType: req.headers['content-type'], body }
}

export async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A participant whose answers are scripted per path, call by call (the last one repeats). */
export async function scriptedParticipant(script: Record<string, Answer[]>) {
  const seen: DtmRequest[] = []
  const server = createServer((req, res) => {
    void readRequest(req).then((r) => {
      const n = seen.filter((s) => s.path === r.path).length
      seen.push(r)
      const list: Answer[] = script[r.path] ?? [answers.wrapNil]
      const a = list[Math.min(n, list.length - 1)]!
      res.writeHead(a.status, { 'content-type': GIN_JSON, ...a.headers }).end(a.body)
    })
  })
  const base = await listen(server)
  return { base, seen, close: () => new Promise<void>((r) => server.close(() => r())) }
}

/**
 * DTM's saga barrier example (test/busi/barrier.go SagaBTransOut/In and their
 * compensations over dtmcli BranchBarrier.Call) on a real database: a transfer between
 * two accounts, each branch guarded by the barrier table keyed on gid, branch_id, op.
 * A request with `lose_first_answer: true` commits each branch and then answers 500 the
 * first time, as a lost response would.
 */
export async function barrierParticipant(db: Database) {
  const s = `"${db.schema}"`
  await db.exec(`
    CREATE TABLE IF NOT EXISTS ${s}.dtm_barrier (
      id bigserial PRIMARY KEY, trans_type varchar(45) default '', gid varchar(128) default '',
      branch_id varchar(128) default '', op varchar(45) default '', barrier_id varchar(45) default '',
      reason varchar(45) default '', CONSTRAINT uniq_barrier UNIQUE (gid, branch_id, op, barrier_id));
    CREATE TABLE IF NOT EXISTS ${s}.user_account (user_id int PRIMARY KEY, balance int NOT NULL);
    INSERT INTO ${s}.user_account VALUES (1, 10000), (2, 10000) ON CONFLICT (user_id) DO UPDATE SET balance = 10000;`)
  const insertIgnore = async (tx: Queryable, t: string, gid: string, branch: string, op: string, reason: string) =>
    op === '' ? 0 : (await tx.query(`INSERT INTO ${s}.dtm_barrier (trans_type, gid, branch_id, op, barrier_id, reason) VALUES ($1, $2, $3, $4, '01', $5) ON CONFLICT ON CONSTRAINT uniq_barrier DO NOTHING`, [t, gid, branch, op, reason])).rowCount
  const lost = new Set<string>()
  const calls: DtmRequest[] = []

  const server = createServer((req, res) => {
    void readRequest(req).then(async (r) => {
      calls.push(r)
      const send = (a: Answer) => res.writeHead(a.status, { 'content-type': GIN_JSON }).end(a.body)
      const { trans_type: t = '', gid = '', branch_id: branch = '', op = '' } = r.query
      if (!t || !gid || !branch || !op) return send(answers.wrapError(`invalid trans info: transInfo: ${t} ${gid} ${branch} ${op}`))
      const req = JSON.parse(r.body) as { amount: number; trans_in_result?: string; trans_out_Result?: string; lose_first_answer?: boolean }
      const [, , , name] = r.path.split('/') // /api/busi/SagaBTransOut[Com]
      const user = name?.startsWith('SagaBTransOut') ? 1 : 2
      const sign = (user === 1 ? -1 : 1) * (name?.endsWith('Com') ? -1 : 1)
      const result = name?.endsWith('Com') ? '' : user === 1 ? (req.trans_out_Result ?? '') : (req.trans_in_result ?? '')
      try {
        await db.transaction(async (tx) => {
          const originOp = op === 'compensate' ? 'action' : ''
          const origin = await insertIgnore(tx, t, gid, branch, originOp, op)
          const current = await insertIgnore(tx, t, gid, branch, op, op)
          if ((op === 'compensate' && origin > 0) || current === 0) return // null compensation, repeat or dangling
          if (result.includes('FAILURE')) throw new Error('FAILURE')
          await tx.query(`UPDATE ${s}.user_account SET balance = balance + $1 WHERE user_id = $2`, [sign * req.amount, user])
        })
      } catch (err) {
        return send((err as Error).message === 'FAILURE' ? answers.wrapFailure : answers.wrapError((err as Error).message))
      }
      const key = `${gid}/${branch}/${op}`
      if (req.lose_first_answer && !lost.has(key)) {
        lost.add(key)
        return send(answers.wrapError('connection reset after commit'))
      }
      send(answers.wrapNil)
    })
  })
  const base = await listen(server)
  const balances = async () => {
    const { rows } = await db.query<{ user_id: number; balance: number }>(`SELECT user_id, balance FROM ${s}.user_account ORDER BY user_id`)
    return rows.map((row) => Number(row.balance))
  }
  return { base: `${base}/api/busi`, calls, balances, close: () => new Promise<void>((r) => server.close(() => r())) }
}
