// The services the chaos sagas call: one loopback HTTP server that records every call
// it receives (arrival order, idempotency key, outcome) and behaves as the saga's input
// scripts it, plus random trouble:
//   503 before doing anything, and "lost responses": the work is done, then 500;
//   a latency of a few milliseconds on every call, and a slow call now and then.
// Effects are idempotent by key, as the services sagactl expects: a repeated call whose
// work was done answers 200 again without doing it twice.
import { createServer } from 'node:http'

export function startService({ random, flaky503 = 0.06, lostResponse = 0.04, latencyMs = [2, 25], slow = 0.02, slowMs = 250 }) {
  const calls = []
  /** key -> number of times the work was actually applied (must stay 1). */
  const applied = new Map()
  let seq = 0

  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const at = Date.now()
      const [, step, phase] = new URL(req.url, 'http://x').pathname.split('/')
      let msg
      try {
        msg = JSON.parse(body)
      } catch {
        msg = {}
      }
      const call = {
        seq: seq++,
        at,
        sagaId: msg.sagaId ?? null,
        step,
        phase: phase === 'compensation' ? 'compensation' : 'action',
        bodyStep: msg.step ?? null,
        bodyPhase: msg.phase ?? null,
        attempt: msg.attempt ?? null,
        key: req.headers['idempotency-key'] ?? null,
        outcome: null,
      }
      calls.push(call)
      const fate = msg.input?.fate ?? {}
      const reply = (status, outcome, payload = {}) => {
        call.outcome = outcome
        const send = () => {
          res.writeHead(status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(payload))
        }
        // Real services take a while: calls are in flight when a worker is killed.
        const [lo, hi] = latencyMs
        setTimeout(send, random() < slow ? slowMs : lo + random() * (hi - lo))
      }
      const r = random()
      if (r < flaky503) return reply(503, '503', { error: 'try again' })
      if (call.phase === 'action' && fate.fail?.step === step) return reply(fate.fail.status, String(fate.fail.status), { error: `${step} refused` })
      if (call.phase === 'compensation' && fate.compFail === step) return reply(500, 'comp-500', { error: `${step} cannot be undone` })
      const done = applied.get(call.key) ?? 0
      if (done === 0) applied.set(call.key, 1)
      if (r < flaky503 + lostResponse) return reply(500, done ? 'lost-repeat' : 'lost', { error: 'connection reset after commit' })
      reply(200, done ? 'ok-repeat' : 'ok', { step, phase: call.phase, key: call.key })
    })
  })

  return new Promise((resolve) => {
    server.keepAliveTimeout = 10_000
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        calls,
        applied,
        close: () => new Promise((r) => {
          server.closeAllConnections?.()
          server.close(() => r())
        }),
      })
    })
  })
}
