import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/open.js'
import type { Database } from '../../src/db/types.js'
import { Engine } from '../../src/engine/engine.js'
import { BIN, runCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'

const hasTmux = spawnSync('tmux', ['-V']).status === 0

/** The console in a real terminal: tmux runs it, send-keys types, capture-pane reads the screen. */
describe.runIf(pgUrl && hasTmux)('sagactl monitor in tmux', () => {
  const session = `sagactl-monitor-${process.pid}`
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  let db: Database
  let dir: string
  const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' })
  const screen = () => tmux('capture-pane', '-p', '-t', session)
  const keys = (...k: string[]) => tmux('send-keys', '-t', session, ...k)
  // Generous: under CI the other test files (the chaos run among them) share the two cores.
  const showing = (text: string | RegExp, timeoutMs = 45_000) =>
    waitFor(async () => (typeof text === 'string' ? screen().includes(text) : text.test(screen())), timeoutMs, 100).catch(() => {
      throw new Error(`screen never showed ${text}:\n${screen()}`)
    })

  beforeAll(async () => {
    s = await freshPgSchema()
    dir = mkdtempSync(join(tmpdir(), 'sagactl-monitor-'))
    writeFileSync(join(dir, 'careful.yaml'), scriptedDefinition('careful', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }]))
    writeFileSync(join(dir, 'fresh.yaml'), scriptedDefinition('fresh-orders', [{ name: 'only' }]))
    const db_ = ['--database-url', s.url, '--schema', s.schema]
    expect((await runCli(['db', 'migrate', ...db_])).code).toBe(0)
    expect((await runCli(['def', 'apply', dir, ...db_])).code).toBe(0)
    db = await openDatabase({ url: s.url, schema: s.schema })
  })
  afterAll(async () => {
    spawnSync('tmux', ['kill-session', '-t', session])
    await db?.close()
    await s?.drop()
  })

  it('shows a saga another process starts, and retries a suspended saga from the intervention queue', async () => {
    const engine = new Engine(db)
    const { saga } = await engine.start('careful', { script: { charge: { action: ['business'] } } })
    const suspended = await engine.run(saga.id, { defsDir: FIXTURE_STEPS })
    expect(suspended.status).toBe('suspended')

    const command = `env NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${BIN} monitor --database-url ${s.url} --schema ${s.schema} --operator tmux-test --refresh 60s`
    tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', command)
    await showing('careful')

    const started = await runCli(['saga', 'start', 'fresh-orders', '--database-url', s.url, '--schema', s.schema])
    expect(started.code, started.stderr).toBe(0)
    // Delivered by NOTIFY: the poll would take a minute.
    await showing('fresh-orders', 30_000)

    keys('3')
    await showing('charge failed: charge refused')
    keys('r')
    await showing(/rev \d+/)
    keys('-l', 'card fixed')
    keys('Enter')
    await waitFor(async () => (await engine.get(saga.id)).status === 'running', 30_000).catch(() => {
      throw new Error(`the retry did not happen; the screen:\n${screen()}`)
    })
    const audit = await db.query(`SELECT operator, action, reason FROM audit_log WHERE saga_id = $1`, [saga.id])
    expect(audit.rows).toEqual([{ operator: 'tmux-test', action: 'saga.retry', reason: 'card fixed' }])

    keys('q')
    await waitFor(async () => spawnSync('tmux', ['has-session', '-t', session]).status !== 0, 10_000)
  }, 180_000)
})
