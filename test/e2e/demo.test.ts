import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/open.js'
import type { DemoReport } from '../../src/demo/outcome.js'
import { Engine } from '../../src/engine/engine.js'
import { runCli, spawnCli, type CliResult } from '../helpers/cli.js'
import { waitFor } from '../helpers/engine.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'

// `npm run build` first: runCli spawns the built CLI.

const RUN_MS = 180_000

function report(res: CliResult): DemoReport {
  expect(res.stderr, 'with --json, stdout is the report alone').not.toContain('error:')
  return JSON.parse(res.stdout) as DemoReport
}

/** The promises of the demo's report, whatever the database. */
function expectConsistentRun(r: DemoReport, sagas: number): void {
  expect(r.sagas).toBe(sagas)
  const { completed, compensated, suspended, failed, unfinished } = r.outcomes
  expect(completed + compensated + suspended + failed + unfinished).toBe(sagas)
  expect(unfinished).toBe(0)
  expect(r.consistency.ok, JSON.stringify(r.consistency.checks.filter((c) => !c.ok))).toBe(true)
  expect(r.consistency.checks.length).toBeGreaterThanOrEqual(13)
  for (const c of r.consistency.checks) expect(c).toEqual({ check: expect.any(String), ok: true, detail: expect.any(String) })
  expect(r.durationsMs.p50).toBeGreaterThan(0)
  expect(r.durationsMs.p95!).toBeGreaterThanOrEqual(r.durationsMs.p50!)
}

describe('sagactl demo on the embedded database', () => {
  let cwd: string
  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'sagactl-demo-'))
  })
  afterAll(() => rmSync(cwd, { recursive: true, force: true }))

  it('refuses to open the console without a terminal, before touching anything', async () => {
    const res = await runCli(['demo'], { cwd })
    expect(res.code).toBe(2)
    expect(res.stderr.trim().split('\n')).toEqual(['error: the demo console needs a terminal — run: sagactl demo --no-tui --count 20'])
  })

  it('runs 100 sagas from nothing: some complete, some compensate, the services agree', { timeout: RUN_MS }, async () => {
    const res = await runCli(['demo', '--no-tui', '--count', '100', '--failure-rate', '0.2', '--rate', '0', '--json'], { cwd, timeoutMs: RUN_MS })
    expect(res.code, res.stderr).toBe(0)
    const r = report(res)
    expectConsistentRun(r, 100)
    expect(r.outcomes.completed).toBeGreaterThan(0)
    expect(r.outcomes.compensated).toBeGreaterThan(0)
    expect(r.database).toBe(`pglite:${join(cwd, '.sagactl/data')}`)
    expect(r.samples.filter((s) => s.status === 'compensated').every((s) => typeof s.reason === 'string' && s.reason.includes('failed'))).toBe(true)
  })

  it('suspends sagas whose compensation keeps failing: reported with open interventions, not held against the run', { timeout: RUN_MS }, async () => {
    // 30 rather than 20 sagas: whether a saga reaches a step with something to undo is random per saga.
    const args = ['demo', '--no-tui', '--count', '30', '--failure-rate', '0.5', '--compensation-failure-rate', '1', '--rate', '0', '--json']
    const res = await runCli(args, { cwd, timeoutMs: RUN_MS })
    expect(res.code, res.stderr).toBe(0)
    const r = report(res)
    expectConsistentRun(r, 30)
    expect(r.outcomes.suspended).toBeGreaterThan(0)
    expect(r.openInterventions).toBe(r.outcomes.suspended)
    expect(r.consistency.checks.find((c) => c.check === 'sagas not finished cleanly')).toMatchObject({ ok: true, detail: expect.stringContaining(`${r.outcomes.suspended} saga(s)`) })
    const suspended = r.samples.filter((s) => s.status === 'suspended')
    expect(suspended.length).toBeGreaterThan(0)
    for (const s of suspended) expect(s.reason).toMatch(/^compensation of .+ failed/)

    const db = await openDatabase({ url: `pglite:${join(cwd, '.sagactl/data')}`, schema: 'sagactl' })
    try {
      const ids = suspended.map((s) => s.id)
      const open = await db.query<{ saga_id: string }>(`SELECT saga_id FROM interventions WHERE status = 'open' AND saga_id = ANY($1::uuid[])`, [ids])
      expect(open.rows.map((row) => row.saga_id).sort()).toEqual([...ids].sort())
    } finally {
      await db.close()
    }
  })

  it('prints the outcome table and says plainly what the consistency check means', { timeout: RUN_MS }, async () => {
    const res = await runCli(['demo', '--no-tui', '--count', '5', '--rate', '0', '--failure-rate', '0'], { cwd, timeoutMs: RUN_MS })
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toMatch(/│ completed\s+│ 5\s+│/)
    expect(res.stdout).toMatch(/│ completed: charged once\s+│ OK\s+│/)
    expect(res.stdout).toContain('Consistent: for each of the 0 compensated saga(s), stock, payment and points are back where they started; for each of the 5 completed one(s), they moved exactly once.')
    expect(res.stdout).not.toContain('FAIL')
    expect(res.stderr).toContain('starting 5 sagas as fast as possible')
  })
})

describe.runIf(pgUrl)('sagactl demo on the real server', () => {
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  let cwd: string
  const demo = (args: string[]) => runCli(['demo', '--no-tui', '--rate', '0', '--json', '--database-url', s.url, '--schema', s.schema, ...args], { cwd, timeoutMs: RUN_MS })

  beforeAll(async () => {
    s = await freshPgSchema()
    cwd = mkdtempSync(join(tmpdir(), 'sagactl-demo-pg-'))
  })
  afterAll(async () => {
    rmSync(cwd, { recursive: true, force: true })
    await s?.drop()
  })

  it('runs 100 sagas into a fresh schema and the services agree', { timeout: RUN_MS }, async () => {
    const res = await demo(['--count', '100', '--failure-rate', '0.2'])
    expect(res.code, res.stderr).toBe(0)
    const r = report(res)
    expectConsistentRun(r, 100)
    expect(r.outcomes.completed).toBeGreaterThan(0)
    expect(r.outcomes.compensated).toBeGreaterThan(0)
    expect(r.database).not.toContain('pglite')
  })

  it('aborts what an earlier demo left running instead of running it against new services', { timeout: RUN_MS }, async () => {
    const db = await openDatabase({ url: s.url, schema: s.schema })
    try {
      const leftover = (await new Engine(db).start('order-checkout', { customerId: 'c-1001', items: [{ sku: 'SKU-MOUSE', qty: 1 }], amount: 25 }, { key: 'demo-gone-1' })).saga
      const res = await demo(['--count', '10'])
      expect(res.code, res.stderr).toBe(0)
      expectConsistentRun(report(res), 10)
      const after = await new Engine(db).get(leftover.id)
      expect(after.status).toBe('failed')
      expect(after.reason).toContain('earlier sagactl demo')
    } finally {
      await db.close()
    }
  })
})

describe('demo --services-only', () => {
  it('prints the DEMO_*_URL variables as one JSON document, serves, and stops on SIGTERM; no database', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sagactl-services-'))
    const child = spawnCli(['demo', '--services-only', '--failure-rate', '0', '--json'], { cwd })
    let stdout = ''
    child.stdout!.on('data', (d) => (stdout += d))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    await waitFor(async () => stdout.trim().endsWith('}'), 30_000, 50)
    const doc = JSON.parse(stdout) as { services: Record<string, string>; env: Record<string, string> }
    expect(Object.keys(doc.env)).toEqual(['DEMO_CUSTOMER_URL', 'DEMO_INVENTORY_URL', 'DEMO_ORDER_URL', 'DEMO_PAYMENT_URL', 'DEMO_POINTS_URL', 'DEMO_NOTIFICATION_URL'])
    expect(doc.env.DEMO_PAYMENT_URL).toBe(doc.services.payment)
    const answer = await fetch(`${doc.env.DEMO_CUSTOMER_URL}/customers/validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' },
      body: JSON.stringify({ sagaId: 's1', step: 'validate-customer', attempt: 1, input: { customerId: 'c-1001', items: [], amount: 1 }, results: {} }),
    })
    expect(answer.status).toBeLessThan(500)
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(existsSync(join(cwd, '.sagactl'))).toBe(false)
  })
})
