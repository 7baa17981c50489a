import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sagaStats } from '../../src/db/queries/stats.js'
import { Engine } from '../../src/engine/engine.js'
import { MAX_RETRY_DELAY_MS } from '../../src/engine/limits.js'
import { Worker } from '../../src/engine/worker.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml, waitFor } from '../helpers/engine.js'

// What a hostile or careless participant answers must neither leak a secret into
// anything stored nor leave a saga running with nothing recorded.

const SECRET = 'Sekr1t-Tok3n-77'
const env = { ...process.env, HOSTILE_TOKEN: SECRET }

function hostileServer() {
  const hits = new Map<string, number>()
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      hits.set(path, (hits.get(path) ?? 0) + 1)
      if (path.startsWith('/echo500')) return void res.writeHead(500).end(`you called ${req.url}`)
      if (path === '/nul500') return void res.writeHead(500).end('bad\u0000byte')
      if (path === '/nul200') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":"x\\u0000y"}')
      if (path === '/deep200') return void res.writeHead(200).end('['.repeat(100_000) + ']'.repeat(100_000))
      if (path === '/late425') return void res.writeHead(425, { 'retry-after': '99999999999999' }).end()
      if (path === '/poison200') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"poison":true}')
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  return { server, hits }
}

describe.each(drivers)('hostile participants through the engine on %s', (kind) => {
  const t = useTestDatabase(kind)
  let srv: ReturnType<typeof hostileServer>
  let base: string
  let engine: Engine

  const define = (name: string, url: string, retry = '{ maxAttempts: 1 }') =>
    applyYaml(
      t.db,
      [
        `name: ${name}`,
        `defaults: { timeout: 2s, retry: ${retry}, compensationRetry: { maxAttempts: 1 } }`,
        'steps:',
        `  - { name: first, action: { http: { url: "${base}/ok" } }, compensation: { http: { url: "${base}/undo" } } }`,
        `  - { name: hostile, action: { http: { url: "${url}" } }, compensation: { http: { url: "${base}/undo/${name}" } } }`,
      ].join('\n'),
    )

  const everythingStored = async (sagaId: string): Promise<string> => {
    const parts: string[] = []
    for (const table of ['sagas', 'steps', 'events', 'interventions']) {
      const col = table === 'sagas' ? 'id' : 'saga_id'
      const res = await t.db.query<{ j: string }>(`SELECT row_to_json(x)::text AS j FROM ${table} x WHERE ${col} = $1`, [sagaId])
      parts.push(...res.rows.map((r) => r.j))
    }
    return parts.join('\n')
  }

  beforeAll(async () => {
    srv = hostileServer()
    await new Promise<void>((r) => srv.server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(srv.server.address() as AddressInfo).port}`
    engine = new Engine(t.db)
  })
  afterAll(() => {
    srv.server.closeAllConnections()
    return new Promise<void>((r) => srv.server.close(() => r()))
  })

  it.each([
    ['in the query string, echoed by the service', 'leak-query', () => `${base}/echo500?token=\${env:HOSTILE_TOKEN}`],
    ['as the URL password', 'leak-password', () => `http://user:\${env:HOSTILE_TOKEN}@127.0.0.1:${new URL(base).port}/x`],
    ['in the host name', 'leak-host', () => `http://\${env:HOSTILE_TOKEN}.invalid/x`],
  ])('a secret %s reaches no step, saga, event, stats or worker log', async (_what, name, url) => {
    await define(name, url())
    const { saga } = await engine.start(name, {})
    const lines: string[] = []
    const worker = new Worker(t.db, { env, pollMs: 20, log: (l) => lines.push(l), onTransition: (tr) => lines.push(JSON.stringify(tr)) })
    await worker.start()
    const done = await waitFor(async () => {
      const s = await engine.get(saga.id)
      return s.status === 'compensated' ? s : undefined
    })
    await worker.stop()
    expect(done.reason).toContain('***')
    const stored = await everythingStored(saga.id)
    expect(stored).toContain('hostile')
    const stats = JSON.stringify(await sagaStats(t.db, { sinceMs: 3_600_000, definition: name }))
    for (const text of [stored, stats, lines.join('\n')]) expect(text.toLowerCase()).not.toContain(SECRET.toLowerCase())
  })

  it('a NUL byte in an error body is stored (as U+FFFD) and the policy goes on', async () => {
    await define('nul-error', `${base}/nul500`)
    const { saga } = await engine.start('nul-error', {})
    const done = await engine.run(saga.id, { signal: AbortSignal.timeout(10_000) })
    expect(done.status).toBe('compensated')
    expect(done.reason).toContain('bad\uFFFDbyte')
  })

  it('a NUL in a 2xx JSON body is stored as U+FFFD and the saga completes', async () => {
    await define('nul-output', `${base}/nul200`)
    const { saga } = await engine.start('nul-output', {})
    expect((await engine.run(saga.id, { signal: AbortSignal.timeout(10_000) })).status).toBe('completed')
    const steps = await engine.store.stepsOf(saga.id)
    expect(steps.find((s) => s.name === 'hostile')?.output).toEqual({ a: 'x\uFFFDy' })
  })

  it('100,000-deep JSON in a 2xx body is a failed call that follows the policy', async () => {
    await define('deep-output', `${base}/deep200`, '{ maxAttempts: 2, backoff: fixed, initialDelay: 10ms, jitter: false }')
    const { saga } = await engine.start('deep-output', {})
    const done = await engine.run(saga.id, { signal: AbortSignal.timeout(10_000) })
    expect(done.status).toBe('compensated')
    expect(done.reason).toMatch(/nested deeper than 100 levels.*after 2 attempts/)
    expect(srv.hits.get('/deep200')).toBe(2)
    // attempted with an unknown outcome: it is compensated too
    expect(srv.hits.get('/undo/deep-output')).toBe(1)
  })

  it(`a Retry-After of 99999999999999 s waits at most ${MAX_RETRY_DELAY_MS / 86_400_000} days, recorded`, async () => {
    await define('late-retry', `${base}/late425`)
    const { saga } = await engine.start('late-retry', {})
    const before = Date.now()
    const after = await engine.run(saga.id, { signal: AbortSignal.timeout(1_500) })
    expect(after.status).toBe('running')
    expect(after.lastError).toBe('HTTP 425')
    expect(after.leaseOwner).toBeNull()
    expect(after.dueAt!.getTime()).toBeGreaterThan(before + MAX_RETRY_DELAY_MS - 60_000)
    expect(after.dueAt!.getTime()).toBeLessThanOrEqual(Date.now() + MAX_RETRY_DELAY_MS)
  })

  it('an outcome the database still refuses is recorded as a failed call and follows the policy, not called again silently', async () => {
    await t.db.exec(`
      CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.output IS NOT NULL AND NEW.output ? 'poison' THEN RAISE EXCEPTION 'output refused by a trigger'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON steps FOR EACH ROW EXECUTE FUNCTION refuse_poison();`)
    await define('poison', `${base}/poison200`, '{ maxAttempts: 2, backoff: fixed, initialDelay: 10ms, jitter: false }')
    const { saga } = await engine.start('poison', {})
    const done = await engine.run(saga.id, { signal: AbortSignal.timeout(10_000) })
    expect(done.status).toBe('compensated')
    expect(done.reason).toMatch(/cannot record the outcome: .*output refused by a trigger.*after 2 attempts/)
    expect(srv.hits.get('/poison200')).toBe(2)
    const hostile = (await engine.store.stepsOf(saga.id)).find((s) => s.name === 'hostile' && s.phase === 'action')
    expect(hostile).toMatchObject({ status: 'failed', attempts: 2, errorKind: 'transient' })
  })
})
