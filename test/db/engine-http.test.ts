import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml } from '../helpers/engine.js'

interface Hit {
  path: string
  key: string | undefined
  attempt: number
  at: number
}

/**
 * A service whose answers are scripted per path, call by call: the engine's whole
 * result protocol end to end (425 polls without using attempts, Retry-After waits).
 */
function scriptedServer(script: Record<string, Array<{ status: number; headers?: Record<string, string>; body?: unknown }>>) {
  const hits: Hit[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const path = req.url!.split('?')[0]!
      const n = hits.filter((h) => h.path === path).length
      hits.push({ path, key: req.headers['idempotency-key'] as string | undefined, attempt: JSON.parse(body).attempt, at: Date.now() })
      const answers = script[path] ?? [{ status: 200, body: { ok: true } }]
      const a = answers[Math.min(n, answers.length - 1)]!
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers })
      res.end(JSON.stringify(a.body ?? {}))
    })
  })
  return { server, hits }
}

describe.each(drivers)('http steps through the engine on %s', (kind) => {
  const t = useTestDatabase(kind)
  let srv: ReturnType<typeof scriptedServer>
  let engine: Engine

  beforeAll(async () => {
    srv = scriptedServer({
      '/pending/a': [{ status: 425 }, { status: 425 }, { status: 425 }, { status: 200, body: { done: 1 } }],
      '/limited/a': [{ status: 429, headers: { 'retry-after': '1' } }, { status: 200, body: { ok: 1 } }],
      '/conflict/a': [{ status: 409, body: { error: 'out of stock' } }],
      '/exhaust/a': [{ status: 503 }],
    })
    await new Promise<void>((r) => srv.server.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(srv.server.address() as AddressInfo).port}`
    for (const name of ['pending', 'limited', 'conflict', 'exhaust']) {
      await applyYaml(
        t.db,
        [
          `name: ${name}`,
          'defaults: { timeout: 2s, retry: { maxAttempts: 2, backoff: fixed, initialDelay: 30ms, jitter: false }, compensationRetry: { maxAttempts: 1 } }',
          'steps:',
          `  - { name: first, action: { http: { url: "${base}/${name}/first" } }, compensation: { http: { url: "${base}/${name}/undo-first" } } }`,
          `  - { name: a, action: { http: { url: "${base}/${name}/a" } }, compensation: { http: { url: "${base}/${name}/undo-a" } } }`,
        ].join('\n'),
      )
    }
    engine = new Engine(t.db)
  })
  afterAll(() => new Promise<void>((r) => srv.server.close(() => r())))

  const hitsFor = (prefix: string) => srv.hits.filter((h) => h.path.startsWith(prefix))

  it('425 asks again without using up an attempt, under the same key', async () => {
    const { saga } = await engine.start('pending', {})
    const done = await engine.run(saga.id)
    expect(done.status).toBe('completed')
    const a = hitsFor('/pending/a')
    expect(a).toHaveLength(4)
    expect(a.map((h) => h.attempt)).toEqual([1, 1, 1, 1])
    expect(new Set(a.map((h) => h.key))).toEqual(new Set([`${saga.id}:a:action`]))
  })

  it('429 with Retry-After waits at least that long before the next attempt', async () => {
    const { saga } = await engine.start('limited', {})
    expect((await engine.run(saga.id)).status).toBe('completed')
    const [first, second] = hitsFor('/limited/a')
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950)
    expect(second!.attempt).toBe(2)
  })

  it('409 is a business failure: not retried, not compensated, earlier steps are', async () => {
    const { saga } = await engine.start('conflict', {})
    const done = await engine.run(saga.id)
    expect(done.status).toBe('compensated')
    expect(done.reason).toContain('HTTP 409')
    expect(hitsFor('/conflict/').map((h) => h.path)).toEqual(['/conflict/first', '/conflict/a', '/conflict/undo-first'])
  })

  it('5xx until retries run out compensates the failed step as well, latest first', async () => {
    const { saga } = await engine.start('exhaust', {})
    const done = await engine.run(saga.id)
    expect(done.status).toBe('compensated')
    expect(hitsFor('/exhaust/').map((h) => h.path)).toEqual(['/exhaust/first', '/exhaust/a', '/exhaust/a', '/exhaust/undo-a', '/exhaust/undo-first'])
    const undo = hitsFor('/exhaust/undo-a')[0]!
    expect(undo.key).toBe(`${saga.id}:a:compensation`)
  })
})
