import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mapDriverError } from '../../src/db/errors.js'
import { openDatabase } from '../../src/db/open.js'
import type { Database } from '../../src/db/types.js'
import { Engine } from '../../src/engine/engine.js'
import { DatabaseUnreachableError } from '../../src/errors.js'
import { BIN, runCli, spawnCli, startServe } from '../helpers/cli.js'
import { curl } from '../helpers/curl.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'
import { findPgbouncer, startPgbouncer, type Pgbouncer } from '../helpers/pgbouncer.js'

const installed = findPgbouncer() !== null
if (!installed && process.env.CI) throw new Error('pgbouncer is required under CI (.ci/run installs it): apt-get install -y pgbouncer')
if (!installed) process.stderr.write('\n  pgbouncer is not installed: the PgBouncer tests are SKIPPED (apt-get install -y pgbouncer)\n\n')
const hasTmux = spawnSync('tmux', ['-V']).status === 0
if (!hasTmux && process.env.CI) throw new Error('tmux is required under CI for the console tests (.ci/run installs it): apt-get install -y tmux')

/**
 * Every process-level path through Debian's PgBouncer 1.18 with a stock config (no
 * ignore_startup_parameters, no max_prepared_statements), in both pool modes.
 */
describe.runIf(pgUrl && installed).each(['session', 'transaction'] as const)('through PgBouncer in %s mode', (mode) => {
  let bouncer: Pgbouncer
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  let direct: Database
  let engine: Engine
  let dir: string
  /** What a user would write: the pooler's URL with the switch. */
  let url: string
  const args = () => ['--database-url', url, '--schema', s.schema]

  beforeAll(async () => {
    bouncer = await startPgbouncer(pgUrl!, mode)
    url = `${bouncer.url}?pgbouncer=true`
    s = await freshPgSchema()
    dir = mkdtempSync(join(tmpdir(), `sagactl-pgbouncer-${mode}-`))
    writeFileSync(join(dir, 'orders.yaml'), scriptedDefinition('orders', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }]))
    const migrated = await runCli(['db', 'migrate', ...args()])
    expect(migrated.code, migrated.stderr).toBe(0)
    const applied = await runCli(['def', 'apply', dir, ...args()])
    expect(applied.code, applied.stderr).toBe(0)
    direct = await openDatabase({ url: pgUrl!, schema: s.schema })
    engine = new Engine(direct)
  }, 120_000)
  afterAll(async () => {
    await direct?.close()
    await bouncer?.stop()
    await s?.drop()
  })

  /** A session pooler passes notifications on; in transaction mode LISTEN needs its own direct connection. */
  const listenArgs = () => (mode === 'transaction' ? ['--listen-database-url', pgUrl!] : [])

  it('a worker runs every saga, sagas started through the pooler too, with no error', async () => {
    const started = await runCli(['saga', 'start', 'orders', '--input', '{}', '--json', ...args()])
    expect(started.code, started.stderr).toBe(0)
    for (let i = 0; i < 24; i++) await engine.start('orders', {})
    // The direct LISTEN URL from the environment here, sagactl.yaml for events --follow, the flag for the console.
    const listenEnv = mode === 'transaction' ? { SAGACTL_LISTEN_DATABASE_URL: pgUrl! } : {}
    const worker = spawnCli(['worker', '--defs', FIXTURE_STEPS, '--concurrency', '8', ...args()], { env: listenEnv })
    let log = ''
    worker.stderr!.on('data', (d) => (log += d))
    const exited = new Promise<number | null>((r) => worker.on('close', r))
    try {
      await waitFor(async () => {
        const r = await direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM sagas WHERE status = 'completed'`)
        return r.rows[0]!.n === 25
      }, 90_000, 200)
    } finally {
      worker.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
    expect(log).toMatch(/ 0 error\(s\)/)
    expect(log).not.toMatch(/live wake-ups unavailable/)
    expect(log).not.toMatch(/prepared statement/)
  }, 150_000)

  it.runIf(mode === 'transaction')('a worker without a direct LISTEN URL says plainly that notifications do not arrive', async () => {
    const worker = spawnCli(['worker', '--defs', FIXTURE_STEPS, ...args()])
    let log = ''
    worker.stderr!.on('data', (d) => (log += d))
    const exited = new Promise<number | null>((r) => worker.on('close', r))
    try {
      await waitFor(async () => / worker \S+ started on /.test(log), 30_000, 50)
    } finally {
      worker.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
    expect(log).toMatch(/live wake-ups unavailable \(notifications do not arrive through .*PgBouncer in transaction mode.*--listen-database-url/)
  }, 60_000)

  it.runIf(mode === 'transaction')('serve says when notifications do not arrive, and its event streams still follow a saga', async () => {
    const created = await runCli(['token', 'create', '--name', 'sse-reader', '--role', 'read', '--json', '--operator', 'test', ...args()])
    expect(created.code, created.stderr).toBe(0)
    const { token } = JSON.parse(created.stdout) as { token: string }
    const servers = await Promise.all([startServe(args()), startServe([...args(), '--listen-database-url', pgUrl!])])
    const [through, listening] = servers
    try {
      await waitFor(async () => /live updates unavailable/.test(through!.log()), 30_000, 50)
      expect(through!.log()).toMatch(/live updates unavailable \(notifications do not arrive through .*PgBouncer in transaction mode.*--listen-database-url.*\): waiting requests and event streams re-read every 1s/)
      // Both made their notification check at the same moment; the direct one heard its own.
      expect(listening!.log()).not.toMatch(/unavailable/)
      const { saga } = await engine.start('orders', {})
      // Without notifications the stream re-reads each second; it used to wait out its 15 s keepalive.
      const stream = curl(['-N', '-H', 'Accept: text/event-stream', `${through!.url}/v1/sagas/${saga.id}/events`], { token, timeoutMs: 12_000 })
      await new Promise((r) => setTimeout(r, 500))
      await engine.run(saga.id, { defsDir: FIXTURE_STEPS })
      const sse = await stream
      expect(sse.body).toContain('event: saga.completed')
      expect(sse.body).toMatch(/event: end\ndata: \{"status":"completed"/)
    } finally {
      for (const s of servers) s.child.kill('SIGTERM')
    }
  }, 90_000)

  it('bulk retry and compensate, then compensate --batch, all through the pooler', async () => {
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const { saga } = await engine.start('orders', { script: { charge: { action: ['business'] } } })
      expect((await engine.run(saga.id, { defsDir: FIXTURE_STEPS })).status).toBe('suspended')
      ids.push(saga.id)
    }
    const retried = await runCli(['saga', 'retry', '--status', 'suspended', '--def', 'orders', '--yes', '--json', ...args()])
    expect(retried.code, retried.stderr).toBe(0)
    for (const id of ids) expect((await engine.get(id)).status).toBe('running')

    // Handed back to suspended by running them again (the script still refuses), then rolled back in bulk.
    for (const id of ids) expect((await engine.run(id, { defsDir: FIXTURE_STEPS })).status).toBe('suspended')
    const compensating = await runCli(['saga', 'compensate', '--status', 'suspended', '--def', 'orders', '--yes', ...args()])
    expect(compensating.code, compensating.stderr).toBe(0)
    for (const id of ids) expect((await engine.get(id)).status).toBe('compensating')

    const pass = await runCli(['compensate', '--batch', '--defs', FIXTURE_STEPS, '--json', ...args()])
    expect(pass.code, pass.stderr).toBe(0)
    expect(JSON.parse(pass.stdout)).toMatchObject({ compensated: 3, errors: 0 })
    for (const id of ids) expect((await engine.get(id)).status).toBe('compensated')
  }, 150_000)

  it('events --follow is live with a direct LISTEN URL, and says so plainly when the pooler drops notifications', async () => {
    const follow = async (extra: string[], cwd?: string) => {
      const { saga } = await engine.start('orders', {})
      const child = spawnCli(['saga', 'events', saga.id, '--follow', '--json', ...args(), ...extra], { cwd })
      let out = ''
      let err = ''
      child.stdout!.on('data', (d) => (out += d))
      child.stderr!.on('data', (d) => (err += d))
      const exited = new Promise<number | null>((r) => child.on('close', r))
      await waitFor(async () => out.includes('saga.created'), 30_000, 50)
      // Give the start-up notification check its time before the saga moves.
      await new Promise((r) => setTimeout(r, 3_500))
      await engine.run(saga.id, { defsDir: FIXTURE_STEPS })
      expect(await exited).toBe(0)
      expect(out).toContain('saga.completed')
      return err
    }
    const configured = mkdtempSync(join(tmpdir(), `sagactl-pgbouncer-config-${mode}-`))
    writeFileSync(join(configured, 'sagactl.yaml'), `database:\n  listenUrl: ${pgUrl}\n`)
    expect(await follow([], configured)).not.toMatch(/notice/)
    const through = await follow([])
    if (mode === 'transaction') {
      expect(through).toMatch(/notice: live updates unavailable \(notifications do not arrive through .*PgBouncer in transaction mode.*--listen-database-url/)
    } else {
      expect(through).not.toMatch(/notice/)
    }
  }, 120_000)

  it("PgBouncer's refusal of the startup options is exit 9 with a PgBouncer hint", async () => {
    const client = new pg.Client({ connectionString: bouncer.url, options: '-c search_path=x' })
    const err = await client.connect().then(
      () => null,
      (e: unknown) => e,
    )
    await client.end().catch(() => {})
    const mapped = mapDriverError(err, bouncer.url, 'sagactl')
    expect(mapped).toBeInstanceOf(DatabaseUnreachableError)
    expect((mapped as DatabaseUnreachableError).exitCode).toBe(9)
    expect((mapped as DatabaseUnreachableError).hint).toMatch(/PgBouncer: add \?pgbouncer=true/)
    // Without the switch, sagactl finds the pooler itself and works all the same.
    const status = await runCli(['db', 'status', '--database-url', bouncer.url, '--schema', s.schema])
    expect(status.code, status.stderr).toBe(0)
    // A LISTEN URL that points at the pooler without the switch: the command says why it polls.
    const { saga } = await engine.start('orders', {})
    const wait = await runCli(['saga', 'wait', saga.id, '--timeout', '1s', ...args(), '--listen-database-url', bouncer.url])
    expect(wait.code, wait.stderr).toBe(11)
    expect(wait.stderr).toMatch(/notice: live updates unavailable \(.*unsupported startup parameter: options — this is PgBouncer: add \?pgbouncer=true/)
  })

  it.runIf(hasTmux)('the console follows a saga started through the pooler', async () => {
    const base = `sagactl-pgb-${mode}-${process.pid}`
    let session = `${base}-poll`
    const tmux = (...a: string[]) => execFileSync('tmux', a, { encoding: 'utf8' })
    const screen = () => tmux('capture-pane', '-p', '-t', session)
    const openConsole = (extra: string[]) =>
      tmux('new-session', '-d', '-s', session, '-x', '110', '-y', '30', `env NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${BIN} monitor ${[...args(), ...extra].join(' ')} --refresh 60s`)
    try {
      if (mode === 'transaction') {
        // Without a direct LISTEN URL the console says it is only polling.
        openConsole([])
        await waitFor(async () => /live updates unavailable \(notifications do not arrive/.test(screen()), 45_000, 100).catch(() => {
          throw new Error(`the console never said notifications do not arrive:\n${screen()}`)
        })
      }
      // A session of its own, opened before the first one closes: killing a tmux server's
      // last session and opening one at once races with the server's exit.
      session = `${base}-live`
      openConsole(listenArgs())
      spawnSync('tmux', ['kill-session', '-t', `${base}-poll`])
      await waitFor(async () => screen().includes('Live'), 45_000, 100)
      const started = await runCli(['saga', 'start', 'orders', '--input', '{"script":{"charge":{"action":["business"]}}}', ...args()])
      expect(started.code, started.stderr).toBe(0)
      // Delivered by NOTIFY: the poll would take a minute.
      await waitFor(async () => /orders\s+pending/.test(screen()), 30_000, 100).catch(() => {
        throw new Error(`the console never showed the new saga:\n${screen()}`)
      })
      expect(screen()).not.toMatch(/live updates unavailable/)
    } finally {
      for (const s of [`${base}-poll`, `${base}-live`]) spawnSync('tmux', ['kill-session', '-t', s])
    }
  }, 120_000)
})

/**
 * The workaround people reach for instead of `?pgbouncer=true`: `ignore_startup_parameters
 * = options` (the pooler drops the search_path sagactl asks for) and a role whose own
 * search_path puts another schema that holds sagactl's tables before the one asked for.
 * sagactl finds the pooler by itself, and `--schema` alone decides where every row goes.
 */
describe.runIf(pgUrl && installed)('through PgBouncer that ignores the startup options, as a role with a search_path of its own', () => {
  const role = `sagactl_pgb_${process.pid}`
  let admin: pg.Client
  let bouncer: Pgbouncer
  let decoy: Awaited<ReturnType<typeof freshPgSchema>>
  let other: Awaited<ReturnType<typeof freshPgSchema>>
  const count = async (schema: string) => (await admin.query(`SELECT count(*)::int AS n FROM "${schema}".sagas`)).rows[0].n as number

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: pgUrl! })
    await admin.connect()
    decoy = await freshPgSchema()
    other = await freshPgSchema()
    const dir = mkdtempSync(join(tmpdir(), 'sagactl-pgbouncer-role-'))
    writeFileSync(join(dir, 'orders.yaml'), scriptedDefinition('orders', [{ name: 'reserve' }]))
    for (const argv of [['db', 'migrate'], ['def', 'apply', dir]]) {
      const res = await runCli([...argv, '--database-url', pgUrl!, '--schema', decoy.schema])
      expect(res.code, res.stderr).toBe(0)
    }
    await admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER`)
    // The schema asked for is on it too, behind one that holds sagactl's tables as well.
    await admin.query(`ALTER ROLE ${role} SET search_path = "${decoy.schema}", "${other.schema}"`)
    bouncer = await startPgbouncer(pgUrl!, 'transaction', { users: [role], ignoreStartupParameters: 'options' })
    const asRole = new URL(bouncer.url)
    asRole.username = role
    const args = ['--database-url', asRole.toString(), '--schema', other.schema]
    for (const argv of [['db', 'migrate'], ['def', 'apply', dir], ['saga', 'start', 'orders', '--input', '{}']]) {
      const res = await runCli([...argv, ...args])
      expect(res.code, `${argv.join(' ')}: ${res.stderr}`).toBe(0)
    }
  }, 120_000)
  afterAll(async () => {
    await bouncer?.stop()
    await other?.drop()
    await decoy?.drop()
    await admin?.query(`DROP OWNED BY ${role}`).catch(() => {})
    await admin?.query(`DROP ROLE IF EXISTS ${role}`)
    await admin?.end()
  })

  it('--schema decides where rows go, not the role search_path, and the pooler is found without ?pgbouncer=true', async () => {
    expect(await count(other.schema)).toBe(1)
    expect(await count(decoy.schema)).toBe(0)
    const asRole = new URL(bouncer.url)
    asRole.username = role
    const db = await openDatabase({ url: asRole.toString(), schema: other.schema })
    try {
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM {{schema}}.sagas')).rows[0]!.n).toBe(1)
      expect((db as unknown as { behindPooler: boolean }).behindPooler).toBe(true)
    } finally {
      await db.close()
    }
    // A direct connection keeps its named statements.
    const direct = await openDatabase({ url: pgUrl!, schema: other.schema })
    try {
      await direct.query('SELECT 1')
      expect((direct as unknown as { behindPooler: boolean }).behindPooler).toBe(false)
    } finally {
      await direct.close()
    }
  })
})
