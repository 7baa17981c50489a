import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/open.js'
import type { Database } from '../../src/db/types.js'
import { Engine } from '../../src/engine/engine.js'
import { runCli, spawnCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { waitFor } from '../helpers/engine.js'
import { maxInWindow, ParticipantServer } from '../helpers/participant-server.js'

/**
 * The participant controls end to end: three worker processes on the real server, a real
 * HTTP participant answering 503 for 20 s (the numbers in BENCHMARKS.md). A shorter outage
 * or other counts: SAGACTL_OUTAGE_MS=6000 SAGACTL_OUTAGE_SAGAS=200 npx vitest run test/e2e/participants.test.ts
 */
const OUTAGE_MS = Number(process.env.SAGACTL_OUTAGE_MS ?? 20_000)
const SAGAS = Number(process.env.SAGACTL_OUTAGE_SAGAS ?? 200)
const WORKERS = 3
const CONCURRENCY = 16
const CIRCUIT = { failures: 5, within: '30s', cooldownMs: 2_000 }

describe.runIf(pgUrl)('participant controls with three worker processes', () => {
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  let db: Database
  let dir: string
  let srv: ParticipantServer
  const workers: ChildProcess[] = []
  const cli = (args: string[]) => runCli([...args, '--database-url', s.url, '--schema', s.schema])

  const definition = (name: string, payments: string, circuit: boolean) =>
    [
      `name: ${name}`,
      'defaults:',
      '  timeout: 2s',
      '  retry: { maxAttempts: 3, backoff: exponential, initialDelay: 200ms, maxDelay: 2s, jitter: true }',
      '  compensationRetry: { maxAttempts: 3, backoff: exponential, initialDelay: 200ms, maxDelay: 2s }',
      circuit ? `participants: { ${payments}: { circuit: { failures: ${CIRCUIT.failures}, within: ${CIRCUIT.within}, cooldown: ${CIRCUIT.cooldownMs}ms } } }` : '',
      'steps:',
      `  - { name: reserve, participant: inventory, action: { http: { url: "${srv.url}/reserve" } }, compensation: { http: { url: "${srv.url}/release" } } }`,
      `  - { name: charge, participant: ${payments}, action: { http: { url: "${srv.url}/${payments}/charge" } }, compensation: { http: { url: "${srv.url}/${payments}/refund" } } }`,
    ].filter(Boolean).join('\n')

  beforeAll(async () => {
    s = await freshPgSchema()
    srv = await new ParticipantServer().start()
    srv.delayMs = 5
    srv.status = () => 200
    dir = mkdtempSync(join(tmpdir(), 'sagactl-participants-'))
    writeFileSync(join(dir, 'guarded.yaml'), definition('guarded', 'payments', true))
    writeFileSync(join(dir, 'unguarded.yaml'), definition('unguarded', 'payments-unguarded', false))
    writeFileSync(
      join(dir, 'ledger.yaml'),
      `name: ledger\ndefaults: { timeout: 2s }\nsteps:\n  - { name: post, participant: ledger, action: { http: { url: "${srv.url}/ledger/post" } } }`,
    )
    writeFileSync(
      join(dir, 'limits.yaml'),
      [
        'name: limits',
        'participants: { narrow: { maxInFlight: 3 }, metered: { rps: 8 } }',
        'defaults: { timeout: 2s }',
        'steps:',
        `  - { name: hold, participant: narrow, action: { http: { url: "${srv.url}/narrow/hold" } } }`,
        `  - { name: meter, participant: metered, action: { http: { url: "${srv.url}/metered/call" } } }`,
      ].join('\n'),
    )
    expect((await cli(['db', 'migrate'])).code).toBe(0)
    expect((await cli(['def', 'apply', dir])).code).toBe(0)
    db = await openDatabase({ url: s.url, schema: s.schema })
    for (let i = 0; i < WORKERS; i++) {
      workers.push(spawnCli(['worker', '--concurrency', String(CONCURRENCY), '--lease', '5s', '--poll', '200ms', '--database-url', s.url, '--schema', s.schema]))
    }
    await waitFor(async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL`)).rows[0]!.n === WORKERS, 30_000)
  })
  afterAll(async () => {
    for (const w of workers) w.kill('SIGTERM')
    await Promise.all(workers.map((w) => (w.exitCode === null ? new Promise((r) => w.once('exit', r)) : null)))
    await srv?.close()
    await db?.close()
    await s?.drop()
  })

  const count = async (sql: string, params: unknown[]) => (await db.query<{ n: number }>(sql, params)).rows[0]!.n

  async function outageRun(def: string, payments: string) {
    const engine = new Engine(db)
    const path = (p: string) => p.startsWith(`/${payments}/`)
    const startedAt = Date.now()
    // the whole participant is down: charges and refunds alike
    let down = true
    srv.status = (url) => (down && path(url) ? 503 : 200)
    const ids: string[] = []
    for (let i = 0; i < SAGAS; i++) ids.push((await engine.start(def, { order: i })).saga.id)
    const elapsed = Date.now() - startedAt
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - elapsed)))
    down = false
    const recoveredAt = Date.now()
    await waitFor(async () => (await count(`SELECT count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) AND status IN ('completed', 'compensated', 'suspended', 'failed')`, [ids])) === ids.length, 120_000, 200)
    const byStatus = Object.fromEntries(
      (await db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) GROUP BY status`, [ids])).rows.map((r) => [r.status, r.n]),
    )
    const hits = srv.hits.filter((h) => path(h.path) && h.at >= startedAt)
    return {
      byStatus,
      interventions: await count(`SELECT count(*)::int AS n FROM interventions WHERE saga_id = ANY($1::uuid[])`, [ids]),
      exhausted: await count(`SELECT count(*)::int AS n FROM steps WHERE saga_id = ANY($1::uuid[]) AND status = 'failed'`, [ids]),
      maxChargeAttempts: await count(`SELECT coalesce(max(attempts), 0)::int AS n FROM steps WHERE saga_id = ANY($1::uuid[]) AND name = 'charge' AND phase = 'action'`, [ids]),
      callsDuringOutage: hits.filter((h) => h.at < recoveredAt).length,
      failedCalls: hits.filter((h) => h.status === 503).length,
      recoveryMs: Date.now() - recoveredAt,
      ids,
    }
  }

  it(`a ${OUTAGE_MS / 1000} s outage of a participant behind a circuit breaker: no saga exhausts its retries, calls stay bounded, all complete`, async () => {
    const before = await outageRun('unguarded', 'payments-unguarded')
    const after = await outageRun('guarded', 'payments')
    const events = await db.query<{ type: string }>(`SELECT type FROM participant_events WHERE participant = 'payments' ORDER BY id`)
    const probes = events.rows.filter((e) => e.type === 'circuit.half-open').length
    // failures to open it + every call already in flight when it opened + one probe per cooldown
    const bound = CIRCUIT.failures + WORKERS * CONCURRENCY + Math.ceil(OUTAGE_MS / CIRCUIT.cooldownMs) + 1
    process.stderr.write(`participant outage ${JSON.stringify({ outageMs: OUTAGE_MS, sagas: SAGAS, bound, probes, before: { ...before, ids: undefined }, after: { ...after, ids: undefined } })}\n`)

    expect(after.byStatus).toEqual({ completed: SAGAS })
    expect(after.interventions).toBe(0)
    expect(after.exhausted).toBe(0)
    // while the circuit is open only probes reach the participant: every other failed call
    // started before it opened (the failures that opened it, the calls already in flight)
    expect(after.failedCalls - probes).toBeLessThanOrEqual(CIRCUIT.failures + WORKERS * CONCURRENCY)
    expect(after.failedCalls).toBeLessThanOrEqual(bound)
    expect(events.rows[0]!.type).toBe('circuit.opened')
    expect(events.rows.at(-1)!.type).toBe('circuit.closed')
    // without the breaker the same outage sends sagas to compensation, and their refunds to the intervention queue
    expect((before.byStatus.compensated ?? 0) + (before.byStatus.suspended ?? 0)).toBeGreaterThan(0)
    const health = await cli(['health', '--json'])
    expect(JSON.parse(health.stdout).rules.find((r: { name: string }) => r.name === 'open-circuits').ok).toBe(true)
  }, 300_000)

  it('pause mid-run: no call reaches the participant until resume, then at most --rps calls per second', async () => {
    const engine = new Engine(db)
    const ids: string[] = []
    let feeding = true
    const feeder = (async () => {
      while (feeding) {
        ids.push((await engine.start('ledger', {})).saga.id)
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    await waitFor(async () => srv.hits.filter((h) => h.path === '/ledger/post').length >= 20, 30_000)
    const paused = await cli(['participant', 'pause', 'ledger', '--reason', 'ledger migration', '--operator', 'alice', '--json'])
    expect(paused.code).toBe(0)
    const pausedAt = Date.now()
    await new Promise((r) => setTimeout(r, 2_000))
    feeding = false
    await feeder
    // calls in flight when the pause landed were answered within a few ms of it
    expect(srv.hits.filter((h) => h.path === '/ledger/post' && h.at > pausedAt + 50)).toEqual([])
    const list = JSON.parse((await cli(['participant', 'list', '--json'])).stdout)
    const ledger = list.items.find((p: { name: string }) => p.name === 'ledger')
    expect(ledger).toMatchObject({ state: 'paused', paused: { reason: 'ledger migration', by: 'alice' } })
    expect(ledger.sagasWaiting).toBeGreaterThan(10)
    const sagas = await cli(['saga', 'list', '--def', 'ledger', '--status', 'running'])
    expect(sagas.stdout).toContain('waiting for a paused participant: ledger')
    const waiting = await count(`SELECT count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) AND waiting_for = 'ledger'`, [ids])
    const held = (await db.query<{ id: string }>(`SELECT id FROM sagas WHERE id = ANY($1::uuid[]) AND waiting_for = 'ledger' LIMIT 1`, [ids])).rows[0]!.id
    expect((await cli(['saga', 'show', held])).stdout).toMatch(/waiting +waiting for a paused participant: ledger/)
    const table = (await cli(['participant', 'list'])).stdout
    expect(table).toMatch(/participant +│ state +│ calls\/min +│ errors +│ p50 +│ p95 +│ in flight +│ waiting +│ controls +│ paused because/)
    expect(table).toMatch(new RegExp(`ledger +│ paused +│ \\d+ +│ 0% +│ ≤\\S+ +│ ≤\\S+ +│ \\d+ +│ ${ledger.sagasWaiting} +│ +│ ledger migration \\(alice\\)`))
    expect(await count(`SELECT count(*)::int AS n FROM steps WHERE saga_id = ANY($1::uuid[]) AND attempts > 1`, [ids])).toBe(0)

    const rps = 10
    const resumedAt = Date.now()
    expect((await cli(['participant', 'resume', 'ledger', '--rps', String(rps), '--reason', 'done', '--operator', 'alice'])).code).toBe(0)
    await waitFor(async () => (await count(`SELECT count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) AND status = 'completed'`, [ids])) === ids.length, 120_000, 200)
    const after = srv.hits.filter((h) => h.path === '/ledger/post' && h.at >= resumedAt).map((h) => h.at)
    expect(srv.hits.filter((h) => h.path === '/ledger/post' && h.at > pausedAt + 50 && h.at < resumedAt)).toEqual([])
    expect(after.length).toBeGreaterThanOrEqual(waiting)
    // one admission every 1/rps s: at most rps + 1 start in any second; the commit before each call adds jitter
    expect(maxInWindow(after, 1_000)).toBeLessThanOrEqual(rps + 2)
    expect(((after.length - 1) / (Math.max(...after) - Math.min(...after))) * 1000).toBeLessThanOrEqual(rps * 1.1)
    const shown = JSON.parse((await cli(['participant', 'show', 'ledger', '--json'])).stdout)
    expect(shown.participant).toMatchObject({ state: 'limited', operatorRps: rps, paused: null })
    expect(shown.events.map((e: { type: string; actor: string; reason: string }) => [e.type, e.actor, e.reason])).toEqual([
      ['paused', 'alice', 'ledger migration'],
      ['resumed', 'alice', 'done'],
    ])
    expect(shown.events[1].data).toMatchObject({ wasPaused: true, rps })
    expect((await cli(['participant', 'show', 'ledger'])).stdout).toMatch(/\d{4}-\d\d-\d\dT\S+ +│ paused +│ alice +│ ledger migration/)
    const audit = await db.query<{ action: string; operator: string }>(`SELECT action, operator FROM audit_log WHERE target = 'ledger' AND action LIKE 'participant.%' ORDER BY id`)
    expect(audit.rows).toEqual([
      { action: 'participant.pause', operator: 'alice' },
      { action: 'participant.resume', operator: 'alice' },
    ])
  }, 300_000)

  it('maxInFlight and rps from a definition hold across three worker processes', async () => {
    const engine = new Engine(db)
    srv.delayMs = 100
    const since = Date.now()
    const ids: string[] = []
    try {
      for (let i = 0; i < 60; i++) ids.push((await engine.start('limits', {})).saga.id)
      await waitFor(async () => (await count(`SELECT count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) AND status = 'completed'`, [ids])) === ids.length, 120_000, 200)
    } finally {
      srv.delayMs = 5
    }
    const hits = srv.hitsSince(since)
    const narrow = hits.filter((h) => h.path === '/narrow/hold').map((h) => h.at)
    const metered = hits.filter((h) => h.path === '/metered/call').map((h) => h.at)
    expect(narrow).toHaveLength(60)
    expect(metered).toHaveLength(60)
    // in flight at the service: never more than maxInFlight, whichever worker made the call
    const overlap = (times: number[]) => Math.max(...times.map((t) => times.filter((u) => u <= t && t < u + 100).length))
    expect(overlap(narrow)).toBeLessThanOrEqual(3)
    expect(overlap(narrow)).toBeGreaterThanOrEqual(2)
    // rps: one admission every 1/rps s, at most rps + 1 start in any second, plus the commit's jitter
    expect(maxInWindow(metered, 1_000)).toBeLessThanOrEqual(8 + 2)
    expect(((metered.length - 1) / (Math.max(...metered) - Math.min(...metered))) * 1000).toBeLessThanOrEqual(8 * 1.1)
    expect(await count(`SELECT count(*)::int AS n FROM steps WHERE saga_id = ANY($1::uuid[]) AND attempts > 1`, [ids])).toBe(0)
    // every worker process made calls to both, each enforcing the limits against the shared row
    const processes = async (participant: string) =>
      await waitFor(async () => {
        const n = await count(`SELECT count(DISTINCT worker)::int AS n FROM participant_stats WHERE participant = $1 AND calls > 0`, [participant])
        return n === WORKERS ? n : null
      }, 10_000, 200)
    expect(await processes('narrow')).toBe(WORKERS)
    expect(await processes('metered')).toBe(WORKERS)
  }, 300_000)
})
