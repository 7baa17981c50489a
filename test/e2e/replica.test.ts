import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/open.js'
import type { Database } from '../../src/db/types.js'
import { Engine } from '../../src/engine/engine.js'
import { BIN, runCli, spawnCli } from '../helpers/cli.js'
import { FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'
import { canMakeClusters, caughtUp, startPrimaryAndStandby, type PrimaryAndStandby } from '../helpers/standby.js'

if (!canMakeClusters && process.env.CI) throw new Error('PostgreSQL server binaries (initdb, pg_basebackup) are required under CI')
const hasTmux = spawnSync('tmux', ['-V']).status === 0
if (!hasTmux && process.env.CI) throw new Error('tmux is required under CI for the console tests (.ci/run installs it): apt-get install -y tmux')

/** A real streaming hot standby of a primary of the test's own; replay paused to make lag. */
describe.runIf(canMakeClusters)('reading from a hot standby', () => {
  let pair: PrimaryAndStandby
  let primary: Database
  let engine: Engine
  const schema = 'sagactl'
  const onPrimary = () => ['--database-url', pair.primaryUrl]
  const withReplica = () => [...onPrimary(), '--read-database-url', pair.standbyUrl]
  const pause = () => pair.standby.sql('postgres', 'SELECT pg_wal_replay_pause()')
  const resume = async () => {
    await pair.standby.sql('postgres', 'SELECT pg_wal_replay_resume()')
    await caughtUp(pair)
  }

  beforeAll(async () => {
    pair = await startPrimaryAndStandby()
    const dir = mkdtempSync(join(tmpdir(), 'sagactl-replica-'))
    writeFileSync(join(dir, 'orders.yaml'), scriptedDefinition('orders', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }]))
    expect((await runCli(['db', 'migrate', ...onPrimary()])).code).toBe(0)
    expect((await runCli(['def', 'apply', dir, ...onPrimary()])).code).toBe(0)
    primary = await openDatabase({ url: pair.primaryUrl, schema })
    engine = new Engine(primary)
    await caughtUp(pair)
  }, 180_000)
  afterAll(async () => {
    await primary?.close()
    await pair?.stop()
  })

  it('a write sent to the standby is exit 9 saying to use the primary: start, retry, migrate, prune, worker, compensate --batch', async () => {
    // Something on the standby for retry and prune to write to: a suspended saga, a finished one.
    const { saga: suspended } = await engine.start('orders', { script: { charge: { action: ['business'] } } })
    expect((await engine.run(suspended.id, { defsDir: FIXTURE_STEPS })).status).toBe('suspended')
    const { saga: finished } = await engine.start('orders', {})
    expect((await engine.run(finished.id, { defsDir: FIXTURE_STEPS })).status).toBe('completed')
    await caughtUp(pair)
    await new Promise((r) => setTimeout(r, 1_100))
    const standby = ['--database-url', pair.standbyUrl]
    for (const argv of [
      ['saga', 'start', 'orders', '--input', '{}'],
      ['saga', 'retry', suspended.id, '--yes'],
      ['db', 'migrate'],
      ['db', 'prune', '--older-than', '1s', '--force', '--yes'],
      ['worker', '--defs', FIXTURE_STEPS],
      ['compensate', '--batch', '--defs', FIXTURE_STEPS],
    ]) {
      const res = await runCli([...argv, ...standby], { timeoutMs: 30_000 })
      expect(res.code, `${argv.join(' ')}: ${res.stderr}`).toBe(9)
      expect(res.stderr).toMatch(/this is a read-only standby; use the primary/)
    }
    expect((await engine.get(suspended.id)).status).toBe('suspended')
    // Out of the way of the console test below, which acts on the one suspended saga.
    await engine.abort(suspended.id, { operator: 'test', reason: 'checked' })
  }, 90_000)

  it('with replay paused: a saga only the primary has is read there, and health reports the lag and the live worker', async () => {
    // Pending on the replica for as long as replay stays paused, whatever the worker does with it.
    await engine.start('orders', {})
    await caughtUp(pair)
    await pause()
    try {
      const { saga } = await engine.start('orders', {})
      await engine.run(saga.id, { defsDir: FIXTURE_STEPS })
      const shown = await runCli(['saga', 'show', saga.id, '--json', ...withReplica()])
      expect(shown.code, shown.stderr).toBe(0)
      expect(JSON.parse(shown.stdout).saga.status).toBe('completed')
      expect(shown.stderr).toMatch(/the replica does not have saga .* yet; read from the primary/)
      // saga events takes the replica from the flag, the environment and sagactl.yaml alike.
      const configured = mkdtempSync(join(tmpdir(), 'sagactl-replica-config-'))
      writeFileSync(join(configured, 'sagactl.yaml'), `database:\n  url: ${pair.primaryUrl}\n  readUrl: ${pair.standbyUrl}\n`)
      for (const [how, argv, opts] of [
        ['flag', withReplica(), {}],
        ['environment', [], { env: { SAGACTL_DATABASE_URL: pair.primaryUrl, SAGACTL_READ_DATABASE_URL: pair.standbyUrl } }],
        ['sagactl.yaml', [], { cwd: configured }],
      ] as const) {
        const events = await runCli(['saga', 'events', saga.id, '--json', ...argv], opts)
        expect(events.code, `${how}: ${events.stderr}`).toBe(0)
        expect(events.stderr, how).toMatch(/the replica does not have saga .* yet; read from the primary/)
        expect(JSON.parse(events.stdout).items.map((e: { type: string }) => e.type)).toContain('saga.completed')
      }

      const worker = spawnCli(['worker', '--defs', FIXTURE_STEPS, ...onPrimary()])
      try {
        await waitFor(async () => (await primary.query(`SELECT 1 FROM workers WHERE stopped_at IS NULL`)).rowCount > 0, 30_000, 100)
        await new Promise((r) => setTimeout(r, 2_000))
        const health = await runCli(['health', '--json', '--max-replica-lag', '1s', '--worker-liveness', '10s', ...withReplica()])
        expect(health.code, health.stderr).toBe(8)
        const report = JSON.parse(health.stdout)
        expect(report.active).toBeGreaterThan(0)
        expect(report.liveWorkers).toBe(1)
        expect(report.replica).toMatchObject({ standby: true, paused: true })
        expect(report.replica.seconds).toBeGreaterThan(1)
        expect(report.rules.find((r: { name: string }) => r.name === 'replica-lag')).toMatchObject({ ok: false })
        expect(report.rules.find((r: { name: string }) => r.name === 'live-workers')).toMatchObject({ ok: true })
        expect(health.stderr).toMatch(/UNHEALTHY: replica lags the primary by/)
      } finally {
        worker.kill('SIGTERM')
      }
    } finally {
      await resume()
    }
  }, 120_000)

  it('metrics are read from the replica named by SAGACTL_READ_DATABASE_URL and export its lag', async () => {
    await pause()
    const child = spawnCli(['metrics', '--port', '0'], { env: { SAGACTL_DATABASE_URL: pair.primaryUrl, SAGACTL_READ_DATABASE_URL: pair.standbyUrl } })
    let err = ''
    child.stderr!.on('data', (d) => (err += d))
    const exited = new Promise<number | null>((r) => child.on('close', r))
    try {
      const before = Number((await pair.standby.sql('sagactl', `SELECT count(*)::int AS n FROM sagactl.sagas`)).rows[0].n)
      await engine.start('orders', {})
      const address = await waitFor(async () => /metrics on (http:\/\/\S+)/.exec(err)?.[1], 30_000, 50)
      let body = ''
      const text = await waitFor(async () => {
        body = await (await fetch(address)).text()
        return /sagactl_replica_lag_seconds [1-9]/.test(body) ? body : null
      }, 30_000, 250).catch(() => {
        throw new Error(`no replica lag in the scrape:\n${body.split('\n').filter((l) => /lag|live/.test(l)).join('\n')}\n${err}`)
      })
      // The saga started after the pause is on the primary only.
      const counted = [...text.matchAll(/^sagactl_sagas\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0)
      expect(counted).toBe(before)
    } finally {
      child.kill('SIGTERM')
      await exited
      await resume()
    }
  }, 90_000)

  it.runIf(hasTmux)('the console shows the lag, and a saga acted on is re-read from the primary', async () => {
    const { saga } = await engine.start('orders', { script: { charge: { action: ['business'] } } })
    expect((await engine.run(saga.id, { defsDir: FIXTURE_STEPS })).status).toBe('suspended')
    await caughtUp(pair)
    await pause()
    const session = `sagactl-replica-${process.pid}`
    const tmux = (...a: string[]) => execFileSync('tmux', a, { encoding: 'utf8' })
    const screen = () => tmux('capture-pane', '-p', '-t', session)
    const showing = (re: RegExp) =>
      waitFor(async () => re.test(screen()), 45_000, 100).catch(() => {
        throw new Error(`screen never showed ${re}:\n${screen()}`)
      })
    try {
      tmux('new-session', '-d', '-s', session, '-x', '140', '-y', '30', `env NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${BIN} monitor ${withReplica().join(' ')} --refresh 1s`)
      await showing(/replica lag \d+s \(paused\)/)
      tmux('send-keys', '-t', session, '3')
      await showing(/charge refused/)
      // The first key may come before the row under the cursor is selected: press until the dialog opens.
      await waitFor(async () => {
        tmux('send-keys', '-t', session, 'r')
        await new Promise((r) => setTimeout(r, 500))
        return /rev \d+/.test(screen())
      }, 30_000, 0)
      tmux('send-keys', '-t', session, '-l', 'card fixed')
      tmux('send-keys', '-t', session, 'Enter')
      await waitFor(async () => (await engine.get(saga.id)).status === 'running', 30_000)
      tmux('send-keys', '-t', session, '1')
      // The replica still says suspended; the row comes from the primary.
      await showing(new RegExp(`${saga.id.slice(0, 13)}.*running`))
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session])
      await resume()
    }
  }, 150_000)
})
