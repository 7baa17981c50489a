import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { HttpCall } from '../../src/engine/definition.js'
import { executeCall, type CallOutcome, type StepContext } from '../../src/engine/executors/index.js'
import { MAX_ERROR_CHARS, MAX_JSON_DEPTH, MAX_OUTPUT_BYTES } from '../../src/engine/limits.js'

// Participants that answer with what a careless or hostile service might: echoes of the
// URL, redirects elsewhere, NUL bytes, endless nesting, bodies larger than any output.

const SECRET = 'Tok-9f8e7d6c5b4a'
let main: Server
let other: Server
let base: string
let otherBase: string
const otherHits: IncomingMessage['headers'][] = []

function listen(s: Server): Promise<string> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)))
}

beforeAll(async () => {
  other = createServer((req, res) => {
    otherHits.push(req.headers)
    req.resume()
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen":true}'))
  })
  otherBase = await listen(other)
  main = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const route = new URL(req.url ?? '/', 'http://x').pathname
      switch (route) {
        case '/echo500':
          return void res.writeHead(500).end(`you called ${req.url}`)
        case '/echo200':
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, auth: req.headers['x-api-key'] }))
        case '/redirect':
          return void res.writeHead(307, { location: `${otherBase}/sink` }).end()
        case '/redirect-same':
          return void res.writeHead(302, { location: `/echo200` }).end()
        case '/nul500':
          return void res.writeHead(500).end('bad\u0000byte')
        case '/nul200':
          return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":"x\\u0000y","k\\u0000":1,"s":"\\udc00"}')
        case '/deep200':
          return void res.writeHead(200).end('['.repeat(100_000) + ']'.repeat(100_000))
        case '/huge200': {
          res.writeHead(200, { 'content-type': 'application/json' })
          const chunk = `"${'x'.repeat(64 * 1024 - 3)}",`
          res.write('[')
          for (let i = 0; i < 48; i++) res.write(chunk) // about 3 MB
          return void res.end('0]')
        }
        case '/huge500':
          return void res.writeHead(500).end('e'.repeat(3 * 1024 * 1024))
        default:
          return void res.writeHead(404).end()
      }
    })
  })
  base = await listen(main)
})

afterAll(async () => {
  for (const s of [main, other]) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

beforeEach(() => {
  otherHits.length = 0
})

const ctx: StepContext = { sagaId: '01900000-0000-7000-8000-000000000009', step: 's', phase: 'action', attempt: 1, input: {}, results: {} }
const opts = { timeoutMs: 3000, defsDir: '/nonexistent', env: { TOKEN: SECRET, HOST_PART: SECRET } }
const call = (url: string, headers: Record<string, string> = {}): HttpCall => ({ http: { url, method: 'POST', headers } })
const everything = (o: CallOutcome) => JSON.stringify(o)

describe('http executor: resolved secrets are scrubbed from every part of the outcome', () => {
  it('a secret in the query string, echoed by a 500 body', async () => {
    const out = await executeCall(call(`${base}/echo500?token=\${env:TOKEN}`), ctx, opts)
    expect(out.kind).toBe('transient')
    expect((out as { error: string }).error).toContain('token=***')
    expect(everything(out)).not.toContain(SECRET)
  })

  it('a secret echoed in a 2xx body is scrubbed from the stored output', async () => {
    const out = await executeCall(call(`${base}/echo200?token=\${env:TOKEN}`, { 'X-Api-Key': '${env:TOKEN}' }), ctx, opts)
    expect(out).toEqual({ kind: 'success', output: { url: '/echo200?token=***', auth: '***' } })
  })

  it('a secret as the URL password, which the client refuses and quotes', async () => {
    const out = await executeCall(call(`http://user:\${env:TOKEN}@127.0.0.1:1/x`), ctx, opts)
    expect(out.kind).toBe('transient')
    expect(everything(out)).not.toContain(SECRET)
    expect(everything(out)).not.toContain(SECRET.toLowerCase())
  })

  it('a secret in the host name, which the DNS error prints lower-cased', async () => {
    const out = await executeCall(call(`http://\${env:HOST_PART}.invalid/x`), ctx, opts)
    expect(out.kind).toBe('transient')
    expect(everything(out).toLowerCase()).not.toContain(SECRET.toLowerCase())
  })

  it('a secret that the URL percent-encodes is scrubbed in its encoded form too', async () => {
    const secret = 'p@ss w0rd/é'
    const out = await executeCall(call(`${base}/echo500?token=\${env:TOKEN}`), ctx, { ...opts, env: { TOKEN: secret } })
    const text = everything(out)
    expect(text).not.toContain(encodeURIComponent(secret))
    expect(text).not.toContain(encodeURI(secret))
    expect(text).not.toContain(secret)
  })
})

describe('http executor: redirects are not followed', () => {
  it('a 307 to another origin is a business failure and the other origin sees nothing', async () => {
    const out = await executeCall(call(`${base}/redirect`, { 'X-Api-Key': '${env:TOKEN}' }), ctx, opts)
    expect(out.kind).toBe('business')
    expect((out as { error: string }).error).toMatch(/^HTTP 307 redirect to http:\/\/127\.0\.0\.1:\d+\/sink \(not followed\)/)
    expect(otherHits).toHaveLength(0)
  })

  it('a same-origin redirect is not followed either', async () => {
    const out = await executeCall(call(`${base}/redirect-same`), ctx, opts)
    expect(out).toMatchObject({ kind: 'business', error: 'HTTP 302 redirect to /echo200 (not followed)' })
  })
})

describe('http executor: outcomes are always storable', () => {
  it('NUL bytes in an error body become U+FFFD', async () => {
    expect(await executeCall(call(`${base}/nul500`), ctx, opts)).toEqual({ kind: 'transient', error: 'HTTP 500: bad\uFFFDbyte' })
  })

  it('NUL and lone surrogates in a 2xx JSON body, keys included, become U+FFFD', async () => {
    expect(await executeCall(call(`${base}/nul200`), ctx, opts)).toEqual({ kind: 'success', output: { a: 'x\uFFFDy', 'k\uFFFD': 1, s: '\uFFFD' } })
  })

  it(`JSON nested deeper than ${MAX_JSON_DEPTH} levels is a failed call, not an output`, async () => {
    const out = await executeCall(call(`${base}/deep200`), ctx, opts)
    expect(out).toEqual({ kind: 'transient', error: `output is nested deeper than ${MAX_JSON_DEPTH} levels: not stored` })
  })

  it('a 2xx body over the output limit is a failed call; the body is not read to its end', async () => {
    const before = process.memoryUsage().rss
    const out = await executeCall(call(`${base}/huge200`), ctx, opts)
    expect(out).toEqual({ kind: 'transient', error: `response body is larger than ${MAX_OUTPUT_BYTES / 1024 / 1024} MiB: not stored` })
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024)
  })

  it('a huge error body is cut to a short snippet', async () => {
    const out = await executeCall(call(`${base}/huge500`), ctx, opts)
    expect(out.kind).toBe('transient')
    expect((out as { error: string }).error.length).toBeLessThanOrEqual(MAX_ERROR_CHARS)
  })
})
