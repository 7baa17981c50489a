import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { v7 } from 'uuid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/migrator.js'
import { openDatabase } from '../../src/db/open.js'
import type { Database } from '../../src/db/types.js'
import { runCli, spawnCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'

// The built CLI against the real server; rows are written directly with SQL.

const MIN = 60_000

async function setup(): Promise<{ db: Database; args: string[]; drop: () => Promise<void> }> {
  const s = await freshPgSchema()
  const db = await openDatabase({ url: s.url, schema: s.schema })
  await migrate(db)
  return {
    db,
    args: ['--database-url', s.url, '--schema', s.schema],
    drop: async () => {
      await db.close()
      await s.drop()
    },
  }
}

async function saga(db: Database, status: string, o: { def?: string; ago?: number; took?: number; reason?: string; compPlan?: number[] } = {}): Promise<string> {
  const ago = o.ago ?? MIN
  const id = v7({ msecs: Date.now() - ago })
  await db.query(
    `INSERT INTO sagas (id, definition, version, status, input, reason, comp_plan, created_at, updated_at, finished_at, due_at)
     VALUES ($1, $2, 1, $3, '{}', $4, $5::int[], now() - $6::float8 * interval '1 ms', now(),
       now() - $6::float8 * interval '1 ms' + $7::float8 * interval '1 ms', CASE WHEN $3 IN ('pending', 'running', 'compensating') THEN now() END)`,
    [id, o.def ?? 'checkout', status, o.reason ?? null, o.compPlan ?? null, ago, o.took ?? null],
  )
  return id
}

const openIntervention = (db: Database) =>
  db.query(`INSERT INTO interventions (saga_id, id, status, reason) VALUES ($1, $2, 'open', 'compensation exhausted')`, [randomUUID(), randomUUID()])
const worker = (db: Database, id: string) => db.query(`INSERT INTO workers (id, host, pid, concurrency) VALUES ($1, 'h', 1, 1)`, [id])
const event = (db: Database, sagaId: string, type: string, agoMs: number, step: string | null, data: object | null = null) =>
  db.query(`INSERT INTO events (saga_id, type, step, phase, data, at) VALUES ($1, $2, $3, 'action', $4, now() - $5::float8 * interval '1 ms')`, [
    sagaId,
    type,
    step,
    data && JSON.stringify(data),
    agoMs,
  ])

function parseMetrics(text: string): (name: string, labels?: Record<string, string>) => number | undefined {
  const samples = text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(l)!
      return { name: m[1]!, labels: Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]])), value: Number(m[3]) }
    })
  return (name, labels = {}) =>
    samples.find((s) => s.name === name && Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

describe.runIf(pgUrl)('monitoring commands on the real server', () => {
  describe('stats and metrics', () => {
    let t: Awaited<ReturnType<typeof setup>>
    let running: string

    beforeAll(async () => {
      t = await setup()
      for (let i = 1; i <= 4; i++) await saga(t.db, 'completed', { took: i * 1000 })
      await saga(t.db, 'compensated', { took: 10_000, reason: 'reserve failed: HTTP 500 (after 3 attempts)', compPlan: [0] })
      await saga(t.db, 'compensated', { took: 10_000, reason: 'reserve failed: HTTP 500 (after 5 attempts)', compPlan: [0] })
      await saga(t.db, 'failed', { def: 'refund', took: 1000, reason: 'timeout' })
      running = await saga(t.db, 'running')
      await saga(t.db, 'pending')
      await openIntervention(t.db)
      await worker(t.db, 'w1')
    })
    afterAll(async () => t?.drop())

    it('stats --json has the promised shape and the fixture numbers', async () => {
      const res = await runCli(['stats', '--json', ...t.args])
      expect(res.code, res.stderr).toBe(0)
      const doc = JSON.parse(res.stdout)
      expect(Object.keys(doc).sort()).toEqual(['compensationRate', 'counts', 'definition', 'durationMs', 'since', 'stepFailures', 'successRate', 'topFailures', 'total'])
      expect(doc).toMatchObject({
        definition: null,
        counts: { pending: 1, running: 1, compensating: 0, suspended: 0, completed: 4, compensated: 2, failed: 1 },
        total: 9,
        topFailures: [
          { reason: 'reserve failed: HTTP 500 (after N attempts)', count: 2 },
          { reason: 'timeout', count: 1 },
        ],
        stepFailures: [],
      })
      expect(doc.successRate).toBeCloseTo(4 / 7)
      expect(doc.compensationRate).toBeCloseTo(2 / 7)
      expect(doc.durationMs.p50).toBeCloseTo(3000, 3) // of 1, 1, 2, 3, 4, 10, 10 s
      expect(new Date(doc.since).getTime()).toBeGreaterThan(Date.now() - 24 * 3_600_000 - MIN)

      const refund = JSON.parse((await runCli(['stats', '--json', '--def', 'refund', '--since', '1h', ...t.args])).stdout)
      expect(refund).toMatchObject({ definition: 'refund', total: 1, successRate: 0, durationMs: { p50: 1000, p95: 1000, p99: 1000 } })
    })

    it('stats for people prints tables; a bad period is a usage error', async () => {
      const res = await runCli(['stats', ...t.args])
      expect(res.code).toBe(0)
      expect(res.stdout).toContain('9 saga(s) created in the last 24h')
      expect(res.stdout).toMatch(/completed\s*│\s*4/)
      expect(res.stdout).toContain('reserve failed: HTTP 500 (after N attempts)')
      const bad = await runCli(['stats', '--since', 'yesterday', ...t.args])
      expect(bad.code).toBe(2)
    })

    it('metrics --port 0 serves the fixture, counts new events, and stops on SIGTERM', async () => {
      const child = spawnCli(['metrics', '--port', '0', ...t.args])
      let stderr = ''
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr!.on('data', (d) => {
          stderr += d
          const m = /^metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(stderr)
          if (m) resolve(m[1]!)
        })
        child.on('close', () => reject(new Error(`metrics exited: ${stderr}`)))
      })
      try {
        let m = parseMetrics(await (await fetch(url)).text())
        expect(m('sagactl_sagas', { status: 'completed', definition: 'checkout' })).toBe(4)
        expect(m('sagactl_sagas', { status: 'compensated', definition: 'checkout' })).toBe(2)
        expect(m('sagactl_sagas', { status: 'running', definition: 'checkout' })).toBe(1)
        expect(m('sagactl_sagas', { status: 'failed', definition: 'refund' })).toBe(1)
        expect(m('sagactl_sagas', { status: 'failed', definition: 'checkout' })).toBe(0)
        expect(m('sagactl_open_interventions')).toBe(1)
        expect(m('sagactl_live_workers')).toBe(1)
        expect(m('sagactl_worker_heartbeat_age_seconds', { worker: 'w1' })).toBeLessThan(60)

        await event(t.db, running, 'step.started', 60_000, 'reserve')
        await event(t.db, running, 'step.failed', 58_000, 'reserve', { kind: 'transient', error: 'HTTP 503', retryAt: 'soon' })
        await event(t.db, running, 'saga.compensating', 57_000, null, { reason: 'timeout' })
        m = parseMetrics(await (await fetch(url)).text())
        const labels = { definition: 'checkout', step: 'reserve', phase: 'action' }
        expect(m('sagactl_step_retries_total', labels)).toBe(1)
        expect(m('sagactl_step_duration_seconds_count', labels)).toBe(1)
        expect(m('sagactl_step_duration_seconds_sum', labels)).toBeCloseTo(2, 1)
        expect(m('sagactl_compensations_total', { definition: 'checkout', outcome: 'started' })).toBe(1)

        expect((await fetch(url.replace('/metrics', '/healthz'))).status).toBe(200)
        expect(await (await fetch(url.replace('/metrics', '/'))).text()).toContain('/metrics')
        expect((await fetch(url.replace('/metrics', '/nope'))).status).toBe(404)
      } finally {
        child.kill('SIGTERM')
      }
      expect(await closed).toBe(0)
    })
  })

  describe('monitor --json', () => {
    let t: Awaited<ReturnType<typeof setup>>
    beforeAll(async () => {
      t = await setup()
      const running = await saga(t.db, 'running')
      await t.db.query(`UPDATE sagas SET last_error = $2, step_name = 'pay' WHERE id = $1`, [running, 'HTTP 503 \u001b[2J from pay'])
      await saga(t.db, 'suspended')
      await saga(t.db, 'completed', { took: 1000 })
      await openIntervention(t.db)
      await worker(t.db, 'w1')
    })
    afterAll(async () => t?.drop())

    it("prints what the screen would show, once, as one document, and exits 0 without a terminal", async () => {
      const res = await runCli(['monitor', '--json', ...t.args])
      expect(res.code, res.stderr).toBe(0)
      const doc = JSON.parse(res.stdout)
      expect(Object.keys(doc)).toEqual(['header', 'views'])
      expect(doc.header).toMatchObject({ schema: t.args[3], workers: 1, openInterventions: 1, active: { running: 1, suspended: 1, pending: 0, compensating: 0 } })
      expect(doc.header.displayUrl).toBe(t.args[1])
      expect(Object.keys(doc.views)).toEqual(['live', 'stuck', 'interventions', 'definitions', 'groups', 'participants'])
      // The live view opens on the active sagas; the stored text is kept exactly (the JSON escapes it).
      expect(doc.views.live.map((s: { status: string }) => s.status).sort()).toEqual(['running', 'suspended'])
      expect(doc.views.live.find((s: { status: string }) => s.status === 'running').lastError).toBe('HTTP 503 \u001b[2J from pay')
      expect(res.stdout).not.toContain('\u001b[2J')
      expect(doc.views.interventions).toHaveLength(1)
    })
  })

  describe('health', () => {
    let t: Awaited<ReturnType<typeof setup>>
    beforeAll(async () => {
      t = await setup()
      await saga(t.db, 'running')
      await saga(t.db, 'suspended')
      await saga(t.db, 'suspended')
      await saga(t.db, 'compensated', { took: 1000, compPlan: [0] })
      await worker(t.db, 'w1')
    })
    afterAll(async () => t?.drop())

    it('exit 0 when healthy, 8 with each failing rule on stderr, and --json still prints the document', async () => {
      const ok = await runCli(['health', ...t.args])
      expect(ok.code, ok.stderr).toBe(0)
      expect(ok.stdout).toContain('healthy')
      // What is counted is said: suspended sagas are not active ones.
      expect(ok.stdout).toMatch(/│ active sagas \(pending, running, compensating\) +│ 1 +│/)
      expect(ok.stdout).toMatch(/│ suspended sagas \(waiting for a person\) +│ 2 +│/)
      expect(ok.stderr).toBe('')

      for (let i = 0; i < 11; i++) await openIntervention(t.db)
      await t.db.query(`UPDATE workers SET stopped_at = now()`)
      const bad = await runCli(['health', ...t.args])
      expect(bad.code).toBe(8)
      expect(bad.stderr.trim().split('\n')).toEqual(['UNHEALTHY: open interventions 11 > 10', 'UNHEALTHY: no live worker while 1 saga is active'])
      expect(bad.stdout).toContain('unhealthy')

      const json = await runCli(['health', '--json', ...t.args])
      expect(json.code).toBe(8)
      const doc = JSON.parse(json.stdout)
      expect(Object.keys(doc).sort()).toEqual(['active', 'healthy', 'liveWorkers', 'longRunning', 'openInterventions', 'rules', 'stuck', 'suspended'])
      expect(doc).toMatchObject({ healthy: false, active: 1, suspended: 2, openInterventions: 11, liveWorkers: 0 })
      expect(doc.rules.find((r: { name: string }) => r.name === 'open-interventions')).toEqual({
        name: 'open-interventions',
        ok: false,
        value: 11,
        threshold: 10,
        message: 'open interventions 11 > 10',
      })
      expect(json.stderr).toContain('UNHEALTHY: open interventions 11 > 10')
      await t.db.query(`UPDATE workers SET stopped_at = NULL, heartbeat_at = now()`)
    })

    it('reads thresholds from sagactl.yaml; flags win; bad values are usage errors', async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'sagactl-health-'))
      writeFileSync(join(cwd, 'sagactl.yaml'), 'health:\n  maxOpenInterventions: 20\n  stuckAfter: 1h\n')
      const fromYaml = await runCli(['health', '--json', ...t.args], { cwd })
      expect(fromYaml.code, fromYaml.stderr).toBe(0)
      expect(JSON.parse(fromYaml.stdout).rules[1]).toMatchObject({ ok: true, threshold: 20 })
      const flagWins = await runCli(['health', '--max-open-interventions', '5', ...t.args], { cwd })
      expect(flagWins.code).toBe(8)
      expect(flagWins.stderr).toContain('UNHEALTHY: open interventions 11 > 5')

      writeFileSync(join(cwd, 'sagactl.yaml'), 'health:\n  stuckAfter: soon\n')
      const badYaml = await runCli(['health', ...t.args], { cwd })
      expect(badYaml.code).toBe(2)
      expect(badYaml.stderr).toMatch(/^error: sagactl\.yaml: health\.stuckAfter: invalid duration "soon"/)
      const badFlag = await runCli(['health', '--min-compensation-success', '2', ...t.args])
      expect(badFlag.code).toBe(2)
    })
  })
})
