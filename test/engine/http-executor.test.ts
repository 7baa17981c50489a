import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { HttpCall } from '../../src/engine/definition.js'
import { executeCall, idempotencyKey, parseRetryAfter, type StepContext } from '../../src/engine/executors/index.js'

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: unknown }

let server: Server
let base: string
let seen: Seen[] = []

// Routes: /ok, /text, /empty, /status/<code>?retryAfter=<v>, /echo-auth/<code>, /hang, /slow-body
function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
  const url = new URL(req.url ?? '/', 'http://x')
  seen.push({ method: req.method ?? '', url: url.pathname, headers: req.headers, body: raw ? JSON.parse(raw) : undefined })
  const [, route, arg] = url.pathname.split('/')
  switch (route) {
    case 'ok':
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ reservationId: 'r-1', qty: 2 }))
      return
    case 'json-no-type':
      res.writeHead(201).end('[1,2,3]')
      return
    case 'text':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('done')
      return
    case 'empty':
      res.writeHead(204).end()
      return
    case 'status': {
      const ra = url.searchParams.get('retryAfter')
      res.writeHead(Number(arg), ra ? { 'retry-after': ra } : {}).end(`rejected: ${'x'.repeat(300)}`)
      return
    }
    case 'echo-auth':
      res.writeHead(Number(arg)).end(`you sent ${req.headers.authorization ?? ''}`)
      return
    case 'hang':
      return // never answers
    case 'slow-body':
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"partial":')
      return
    default:
      res.writeHead(500).end()
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (raw += c))
    req.on('end', () => handle(req, res, raw))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

beforeEach(() => {
  seen = []
})

const ctx = (over: Partial<StepContext> = {}): StepContext => ({
  sagaId: '01900000-0000-7000-8000-000000000001',
  step: 'reserve-inventory',
  phase: 'action',
  attempt: 1,
  input: { orderId: 7, items: ['a'] },
  results: { 'validate-customer': { ok: true } },
  ...over,
})
const call = (path: string, headers: Record<string, string> = {}, method = 'POST'): HttpCall => ({ http: { url: `${base}${path}`, method, headers } })
const opts = { timeoutMs: 2000, defsDir: '/nonexistent' }

describe('http executor: success', () => {
  it('posts the step context as JSON with the idempotency key and returns the JSON body', async () => {
    const out = await executeCall(call('/ok', { 'X-Tenant': 'acme' }), ctx(), opts)
    expect(out).toEqual({ kind: 'success', output: { reservationId: 'r-1', qty: 2 } })
    expect(seen).toHaveLength(1)
    const req = seen[0] as Seen
    expect(req.method).toBe('POST')
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.headers['idempotency-key']).toBe('01900000-0000-7000-8000-000000000001:reserve-inventory:action')
    expect(req.headers['x-tenant']).toBe('acme')
    expect(req.body).toEqual({
      sagaId: '01900000-0000-7000-8000-000000000001',
      step: 'reserve-inventory',
      phase: 'action',
      attempt: 1,
      input: { orderId: 7, items: ['a'] },
      results: { 'validate-customer': { ok: true } },
    })
  })

  it('sends the same Idempotency-Key on every attempt, and a different one for the compensation', async () => {
    await executeCall(call('/ok'), ctx({ attempt: 1 }), opts)
    await executeCall(call('/ok'), ctx({ attempt: 2 }), opts)
    await executeCall(call('/ok'), ctx({ phase: 'compensation', attempt: 1 }), opts)
    const keys = seen.map((s) => s.headers['idempotency-key'])
    expect(keys[0]).toBe(keys[1])
    expect(keys[2]).toBe('01900000-0000-7000-8000-000000000001:reserve-inventory:compensation')
    expect(seen.map((s) => (s.body as { attempt: number }).attempt)).toEqual([1, 2, 1])
    expect(idempotencyKey(ctx())).toBe(keys[0])
  })

  it('uses the configured method', async () => {
    await executeCall(call('/ok', {}, 'PUT'), ctx(), opts)
    expect(seen[0]?.method).toBe('PUT')
  })

  it('parses JSON without a content type, keeps text as text, and maps an empty body to null', async () => {
    expect(await executeCall(call('/json-no-type'), ctx(), opts)).toEqual({ kind: 'success', output: [1, 2, 3] })
    expect(await executeCall(call('/text'), ctx(), opts)).toEqual({ kind: 'success', output: 'done' })
    expect(await executeCall(call('/empty'), ctx(), opts)).toEqual({ kind: 'success', output: null })
  })
})

describe('http executor: failures', () => {
  const snippet = `rejected: ${'x'.repeat(190)}`

  it.each([409, 422])('%d is a business failure with the start of the body', async (code) => {
    expect(await executeCall(call(`/status/${code}`), ctx(), opts)).toEqual({ kind: 'business', error: `HTTP ${code}: ${snippet}` })
  })

  it.each([400, 401, 404])('%d (any other 4xx) is a business failure: the same request cannot succeed later', async (code) => {
    expect(await executeCall(call(`/status/${code}`), ctx(), opts)).toMatchObject({ kind: 'business', error: `HTTP ${code}: ${snippet}` })
  })

  it('425 is pending, with Retry-After when given', async () => {
    expect(await executeCall(call('/status/425'), ctx(), opts)).toEqual({ kind: 'pending', error: `HTTP 425: ${snippet}` })
    expect(await executeCall(call('/status/425?retryAfter=3'), ctx(), opts)).toEqual({ kind: 'pending', error: `HTTP 425: ${snippet}`, retryAfterMs: 3000 })
  })

  it.each([408, 500, 502, 503])('%d is transient', async (code) => {
    expect(await executeCall(call(`/status/${code}`), ctx(), opts)).toEqual({ kind: 'transient', error: `HTTP ${code}: ${snippet}` })
  })

  it('429 honours Retry-After in seconds', async () => {
    expect(await executeCall(call('/status/429?retryAfter=7'), ctx(), opts)).toEqual({ kind: 'transient', error: `HTTP 429: ${snippet}`, retryAfterMs: 7000 })
  })

  it('503 honours Retry-After as an HTTP date', async () => {
    const at = new Date(Date.now() + 10_000).toUTCString()
    const out = await executeCall(call(`/status/503?retryAfter=${encodeURIComponent(at)}`), ctx(), opts)
    expect(out.kind).toBe('transient')
    const ms = (out as { retryAfterMs?: number }).retryAfterMs ?? -1
    expect(ms).toBeGreaterThan(8000)
    expect(ms).toBeLessThanOrEqual(10_000)
  })

  it('a server that never answers is a transient timeout', async () => {
    const t0 = Date.now()
    expect(await executeCall(call('/hang'), ctx(), { ...opts, timeoutMs: 200 })).toEqual({ kind: 'transient', error: 'timeout after 200ms' })
    expect(Date.now() - t0).toBeLessThan(1500)
  })

  it('a body that never ends is a timeout too', async () => {
    expect(await executeCall(call('/slow-body'), ctx(), { ...opts, timeoutMs: 300 })).toEqual({ kind: 'transient', error: 'timeout after 300ms' })
  })

  it('the worker aborting the call is transient and says so', async () => {
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    const out = await executeCall(call('/hang'), ctx(), { ...opts, signal: ac.signal })
    expect(out).toEqual({ kind: 'transient', error: 'aborted by the worker before a response arrived (outcome unknown)' })
  })

  it('a refused connection is transient and names the address', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    const out = await executeCall({ http: { url: `http://127.0.0.1:${port}/x`, method: 'POST', headers: {} } }, ctx(), opts)
    expect(out).toEqual({ kind: 'transient', error: `connect ECONNREFUSED 127.0.0.1:${port}` })
  })

  it('an invalid URL is transient and shows the template, not the resolved value', async () => {
    const out = await executeCall({ http: { url: '${env:BASE}/x', method: 'POST', headers: {} } }, ctx(), { ...opts, env: { BASE: 'not a url secret' } })
    expect(out).toEqual({ kind: 'transient', error: 'invalid http(s) URL: ${env:BASE}/x' })
  })
})

describe('http executor: secrets from the environment', () => {
  const SECRET = 'tok-5up3r-s3cret'
  const env = { BASE: '', TOKEN: SECRET }
  const secretCall = (path: string): HttpCall => ({ http: { url: `\${env:BASE}${path}`, method: 'POST', headers: { Authorization: 'Bearer ${env:TOKEN}' } } })

  it('resolves url and header references at call time', async () => {
    const out = await executeCall(secretCall('/ok'), ctx(), { ...opts, env: { ...env, BASE: base } })
    expect(out.kind).toBe('success')
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${SECRET}`)
  })

  it('a missing variable is a business failure (not retried) naming the variable only', async () => {
    const out = await executeCall(secretCall('/ok'), ctx(), { ...opts, env: { BASE: base } })
    expect(out).toEqual({ kind: 'business', error: 'environment variable TOKEN is not set' })
    expect(seen).toHaveLength(0)
  })

  it.each([409, 500])('never echoes a resolved header value in an error (HTTP %d)', async (code) => {
    const out = await executeCall(secretCall(`/echo-auth/${code}`), ctx(), { ...opts, env: { ...env, BASE: base } })
    expect(out.kind).toBe(code === 409 ? 'business' : 'transient')
    const error = (out as { error: string }).error
    expect(error).toBe(`HTTP ${code}: you sent Bearer ***`)
    expect(error).not.toContain(SECRET)
  })

  it('an invalid header value does not quote the value', async () => {
    const out = await executeCall(secretCall('/ok'), ctx(), { ...opts, env: { BASE: base, TOKEN: `${SECRET}\nInjected: yes` } })
    expect(out).toEqual({ kind: 'transient', error: 'invalid header "Authorization": name or value contains characters HTTP does not allow' })
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z')
  it('reads seconds and HTTP dates, ignores garbage, never goes negative', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(null, now)).toBeUndefined()
  })
})
