import { createServer, type Server } from 'node:http'

export interface StepHit {
  sagaId: string
  path: string
  key: string
  attempt: number
  input: { fail?: string[]; n?: number }
  results: Record<string, unknown>
}

/**
 * A real service for HTTP steps: answers 409 for the actions `input.fail` names, else
 * 200 with a body naming the call; records each request with its idempotency key.
 */
export function stepService(): { server: Server; hits: StepHit[] } {
  const hits: StepHit[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const ctx = JSON.parse(body)
      hits.push({ sagaId: ctx.sagaId, path: req.url!, key: req.headers['idempotency-key'] as string, attempt: ctx.attempt, input: ctx.input, results: ctx.results })
      const fail = (ctx.input?.fail ?? []).includes(ctx.step) && ctx.phase === 'action'
      res.writeHead(fail ? 409 : 200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(fail ? { error: `${ctx.step} refused` } : { from: ctx.step, n: ctx.input?.n ?? null, call: hits.length }))
    })
  })
  return { server, hits }
}
