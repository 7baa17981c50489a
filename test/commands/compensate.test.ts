import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/migrator.js'
import { openDatabase } from '../../src/db/open.js'
import type { Database } from '../../src/db/types.js'
import { Engine } from '../../src/engine/engine.js'
import { Worker } from '../../src/engine/worker.js'
import { runCli, spawnCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'

const CAREFUL = scriptedDefinition('careful', [{ name: 'reserve' }, { name: 'charge' }, { name: 'ship', onFailure: 'suspend' }])

interface Fixture {
  db: Database
  engine: Engine
  args: string[]
}

describe.runIf(pgUrl)('compensate --batch and scheduler as processes', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c()
  })

  async function fixture(): Promise<Fixture> {
    const s = await freshPgSchema()
    cleanups.push(s.drop)
    const db = await openDatabase({ url: s.url, schema: s.schema })
    cleanups.push(() => db.close())
    await migrate(db)
    await applyYaml(db, CAREFUL)
    return { db, engine: new Engine(db), args: ['--database-url', s.url, '--schema', s.schema, '--defs', FIXTURE_STEPS] }
  }

  /** n sagas suspended after reserve and charge, then put into compensation by an operator: due now, no lease. */
  async function dueCompensations(f: Fixture, n: number, script: Record<string, unknown> = {}): Promise<string[]> {
    const worker = new Worker(f.db, { concurrency: 8, defsDir: FIXTURE_STEPS, leaseMs: 5_000, pollMs: 20 })
    await worker.start()
    const ids: string[] = []
    try {
      for (let i = 0; i < n; i++) ids.push((await f.engine.start('careful', { script: { ship: { action: ['business'] }, ...script } })).saga.id)
      await waitFor(async () => {
        const r = await f.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) AND status = 'suspended'`, [ids])
        return r.rows[0]!.n === n
      }, 30_000)
    } finally {
      await worker.stop()
    }
    for (const id of ids) await f.engine.compensate(id, { operator: 'test', reason: 'cli test' })
    return ids
  }

  beforeAll(async () => {
    // The CLI runs from dist/: the test needs a build that includes these commands.
    const help = await runCli(['compensate', '--help'])
    if (help.code !== 0) throw new Error('build first: npm run build')
  })

  it('without --batch is a usage error that points at single-saga compensation', async () => {
    const res = await runCli(['compensate', '--database-url', 'pglite:memory'])
    expect(res.code).toBe(2)
    expect(res.stderr.trim().split('\n')).toHaveLength(1)
    expect(res.stderr).toContain('sagactl saga compensate <id>')
  })

  it('exhausted compensations open interventions: exit 6 with the summary', async () => {
    const f = await fixture()
    await dueCompensations(f, 2, { charge: { compensation: ['transient'] } })
    const res = await runCli(['compensate', '--batch', '--json', ...f.args])
    expect(res.code, res.stderr).toBe(6)
    expect(JSON.parse(res.stdout)).toMatchObject({ examined: 2, suspended: 2, interventionsOpened: 2, compensated: 0, errors: 0 })
    const open = await f.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM interventions WHERE status = 'open'`)
    expect(open.rows[0]!.n).toBe(2)

    const table = await runCli(['compensate', '--batch', ...f.args])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/examined\W+0\b/)
    expect(table.stdout).toMatch(/interventions opened\W+0\b/)
  })

  it('two overlapping passes from two processes never run one compensation twice', async () => {
    const f = await fixture()
    const ids = await dueCompensations(f, 50, { charge: { compensation: ['slow:50'] }, reserve: { compensation: ['slow:50'] } })
    const args = ['compensate', '--batch', '--json', '--limit', '100', ...f.args]
    const [a, b] = await Promise.all([runCli(args), runCli(args)])
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0])
    const sa = JSON.parse(a.stdout)
    const sb = JSON.parse(b.stdout)
    expect(sa.compensated + sb.compensated).toBe(50)
    expect(sa.errors + sb.errors).toBe(0)

    const done = await f.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas WHERE id = ANY($1::uuid[]) AND status = 'compensated'`, [ids])
    expect(done.rows[0]!.n).toBe(50)
    const calls = await f.db.query<{ saga_id: string; step: string; attempt: number; n: number }>(
      `SELECT saga_id, step, attempt, count(*)::int AS n FROM events WHERE type = 'step.started' AND phase = 'compensation' GROUP BY 1, 2, 3`,
    )
    expect(calls.rows).toHaveLength(100)
    expect(calls.rows.filter((r) => r.n !== 1)).toEqual([])
    expect(calls.rows.every((r) => r.attempt === 1)).toBe(true)
  })

  it('scheduler runs a pass every --every, compensates what becomes due, and exits 0 on SIGTERM', async () => {
    const f = await fixture()
    const worker = new Worker(f.db, { concurrency: 2, defsDir: FIXTURE_STEPS, leaseMs: 5_000, pollMs: 20 })
    await worker.start()
    const { saga } = await f.engine.start('careful', { script: { ship: { action: ['business'] } } })
    await waitFor(async () => (await f.engine.get(saga.id)).status === 'suspended')
    await worker.stop()

    const child = spawnCli(['scheduler', '--every', '1s', '--json', ...f.args])
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += d))
    child.stderr!.on('data', (d) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    try {
      await waitFor(async () => stdout.includes('\n'), 20_000)
      await f.engine.compensate(saga.id, { operator: 'test', reason: 'scheduler test' })
      await waitFor(async () => (await f.engine.get(saga.id)).status === 'compensated', 20_000)
      await waitFor(async () => stdout.includes('"compensated":1'), 5_000)
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited, stderr).toBe(0)
    const passes = stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(passes.length).toBeGreaterThanOrEqual(2)
    expect(passes[0]).toMatchObject({ examined: 0, compensated: 0, errors: 0 })
    expect(passes[0].at).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(passes.reduce((n, p) => n + p.compensated, 0)).toBe(1)
    const starts = passes.map((p) => Date.parse(p.at))
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(900)
  })

  it('scheduler prints one line per pass for people', async () => {
    const f = await fixture()
    const child = spawnCli(['scheduler', '--every', '1s', ...f.args])
    let stdout = ''
    child.stdout!.on('data', (d) => (stdout += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    try {
      await waitFor(async () => stdout.includes('\n'), 20_000)
    } finally {
      child.kill('SIGINT')
    }
    expect(await exited).toBe(0)
    expect(stdout.split('\n')[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ pass: examined 0, compensated 0, retry later 0, suspended 0, errors 0 \(\d+ ms\)$/)
  })
})
