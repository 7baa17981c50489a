import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, cleanEnv, runCli, spawnCli, type CliResult } from '../helpers/cli.js'
import { FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'
import { readOwner } from '../../src/db/embedded/lock.js'

const hasTmux = spawnSync('tmux', ['-V']).status === 0

/** Runs `fn` over `items`, `width` at a time, like a shell script with `xargs -P`. */
async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }))
  return out
}

// Real processes on the embedded default (no database URL anywhere): one owner serves
// the directory, every other process goes through it, and nothing a command confirmed is lost.
describe('the embedded default shared by processes', () => {
  let dir: string
  let worker: ChildProcess
  const children: ChildProcess[] = []
  const cli = (args: string[]) => runCli(args, { cwd: dir, timeoutMs: 120_000 })
  const ok = (r: CliResult) => {
    expect(r.code, r.stderr).toBe(0)
    return r
  }
  const spawn = (args: string[]) => {
    const child = spawnCli(args, { cwd: dir })
    let err = ''
    child.stderr!.on('data', (d) => (err += d))
    Object.assign(child, { log: () => err })
    children.push(child)
    return child
  }
  const served = () => waitFor(async () => readOwner(join(dir, '.sagactl/data'))?.listen, 90_000, 100)
  const statuses = async () => {
    const list = JSON.parse(ok(await cli(['saga', 'list', '--json', '--limit', '1000'])).stdout) as { items: Array<{ id: string; status: string; definition: string }> }
    return list.items
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sagactl-embedded-'))
    writeFileSync(join(dir, 'quick.yaml'), scriptedDefinition('quick', [{ name: 'reserve' }, { name: 'charge' }]))
    // A step that takes its time, so a saga is seen running.
    writeFileSync(join(dir, 'slow.yaml'), 'name: watched\nsteps:\n  - name: wait\n    timeout: 2m\n    action: { module: ./scripted.js, export: step }\n')
    ok(await cli(['db', 'migrate']))
    ok(await cli(['def', 'apply', dir]))
    worker = spawn(['worker', '--defs', FIXTURE_STEPS, '--concurrency', '8'])
    await served()
  }, 240_000)

  afterAll(() => {
    if (worker && worker.exitCode !== null && worker.signalCode !== 'SIGKILL') process.stderr.write(`the worker exited early (${worker.exitCode}):\n${(worker as unknown as { log(): string }).log()}\n`)
    spawnSync('tmux', ['kill-session', '-t', `sagactl-embedded-${process.pid}`])
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  })

  it('keeps all of 50 sagas started by separate processes, 10 at a time, and runs them; a key started twice is one saga', async () => {
    const started = await pool(Array.from({ length: 50 }, (_, i) => i), 10, (i) => cli(['saga', 'start', 'quick', '--input', '{}', '--key', `k-${i}`, '--json']))
    const ids = started.map((r) => (JSON.parse(ok(r).stdout) as { id: string }).id)
    expect(new Set(ids).size).toBe(50)
    // The same key from two processes at the same moment, and again later: one saga each.
    const twice = await pool([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], 10, (i) => cli(['saga', 'start', 'quick', '--input', '{}', '--key', `k-${i}`, '--json']))
    expect(twice.map((r) => (JSON.parse(ok(r).stdout) as { id: string }).id)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4].map((i) => ids[i]))
    await waitFor(async () => (await statuses()).filter((s) => s.definition === 'quick' && s.status === 'completed').length === 50 || undefined, 120_000, 500)
    const items = await statuses()
    expect(new Set(items.filter((s) => s.definition === 'quick').map((s) => s.id))).toEqual(new Set(ids))
  }, 300_000)

  it.runIf(hasTmux)('shows in a console, live, a saga that a third process starts', async () => {
    const session = `sagactl-embedded-${process.pid}`
    const screen = () => execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' })
    const command = `env NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${BIN} monitor --refresh 60s`
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '30', '-c', dir, command])
    await waitFor(async () => screen().includes('1 worker') || undefined, 60_000, 200).catch(() => {
      throw new Error(`the console never showed the worker:\n${screen()}`)
    })
    ok(await cli(['saga', 'start', 'watched', '--input', JSON.stringify({ script: { wait: { action: ['slow:60000'] } } }), '--key', 'live-1']))
    // --refresh 60s: only a notification through the owner brings it this soon.
    await waitFor(async () => /watched\s+running/.test(screen()) || undefined, 30_000, 200).catch(() => {
      throw new Error(`the console never showed the saga running:\n${screen()}`)
    })
    execFileSync('tmux', ['send-keys', '-t', session, 'q'])
    await waitFor(async () => spawnSync('tmux', ['has-session', '-t', session]).status !== 0, 10_000)
  }, 180_000)

  it('survives its owner killed with SIGKILL: clients exit 9 and say what to run, the next process has every committed saga', async () => {
    const before = new Set((await statuses()).map((s) => s.id))
    const running = JSON.parse(ok(await cli(['saga', 'start', 'watched', '--input', JSON.stringify({ script: { wait: { action: ['slow:60000'] } } }), '--json'])).stdout) as { id: string }
    const follower = spawn(['saga', 'events', running.id, '--follow'])
    await waitFor(async () => ((follower as unknown as { log(): string }).log().includes('following') ? true : undefined), 60_000, 100)
    // Starts keep coming from other processes while the owner is killed.
    let killed = false
    const loops = pool([0, 1, 2], 3, async (n) => {
      const results: Array<{ r: CliResult; id?: string }> = []
      for (let i = 0; i < 4; i++) {
        const r = await cli(['saga', 'start', 'quick', '--input', '{}', '--key', `kill-${n}-${i}`, '--json'])
        results.push({ r, id: r.code === 0 ? (JSON.parse(r.stdout) as { id: string }).id : undefined })
        if (n === 0 && i === 0 && !killed) {
          killed = true
          worker.kill('SIGKILL')
        }
      }
      return results
    })
    const code = await new Promise<number | null>((resolve) => follower.once('exit', (c) => resolve(c)))
    expect(code).toBe(9)
    const said = (follower as unknown as { log(): string }).log()
    expect(said).toMatch(/`sagactl worker` \(pid \d+\), is gone/)
    expect(said).toMatch(/run the command again/)

    const results = (await loops).flat()
    for (const { r } of results) {
      expect([0, 9], r.stderr).toContain(r.code)
      if (r.code === 9) expect(r.stderr).toMatch(/run the command again/)
    }
    const confirmed = results.filter((x) => x.id).map((x) => x.id!)
    expect(confirmed.length).toBeGreaterThan(0)
    const after = new Set((await statuses()).map((s) => s.id))
    for (const id of [...before, running.id, ...confirmed]) expect(after.has(id), `saga ${id} lost`).toBe(true)
    expect(existsSync(join(dir, '.sagactl/data'))).toBe(true)
  }, 300_000)
})

// A worker that reaches the directory through another command carries on after that
// command ends: it takes the directory over, and sagas started later still run.
describe('a worker whose embedded owner exits', () => {
  let dir: string
  const children: ChildProcess[] = []
  const cli = (args: string[]) => runCli(args, { cwd: dir, timeoutMs: 120_000 })
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  })

  it('takes the directory over when the owner (saga events --follow) finishes, and runs the sagas started after', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sagactl-embedded-owner-'))
    writeFileSync(join(dir, 'quick.yaml'), scriptedDefinition('quick', [{ name: 'reserve' }, { name: 'charge' }]))
    expect((await cli(['db', 'migrate'])).code).toBe(0)
    expect((await cli(['def', 'apply', dir])).code).toBe(0)
    const first = JSON.parse((await cli(['saga', 'start', 'quick', '--input', '{}', '--json'])).stdout) as { id: string }
    // The follower opens the directory first and serves it; the worker goes through it.
    const follower = spawnCli(['saga', 'events', first.id, '--follow'], { cwd: dir })
    children.push(follower)
    await waitFor(async () => readOwner(join(dir, '.sagactl/data'))?.listen, 90_000, 100)
    const worker = spawnCli(['worker', '--defs', FIXTURE_STEPS, '--poll', '200ms'], { cwd: dir })
    children.push(worker)
    let log = ''
    worker.stderr!.on('data', (d) => (log += d))
    // The first saga finishes, so the follower stops by itself and the owner is gone.
    expect(await new Promise((resolve) => follower.once('exit', resolve))).toBe(0)
    const later = JSON.parse((await cli(['saga', 'start', 'quick', '--input', '{}', '--json'])).stdout) as { id: string }
    const status = async () => (JSON.parse((await cli(['saga', 'show', later.id, '--json'])).stdout) as { saga: { status: string } }).saga.status
    await waitFor(async () => ((await status()) === 'completed' ? true : undefined), 90_000, 500)
    expect(worker.exitCode, log).toBeNull()
    expect(readOwner(join(dir, '.sagactl/data'))?.pid).toBe(worker.pid)
  }, 240_000)
})

// README.md, "Your own saga in four commands", run as written (npx finds the local
// sagactl, as after `npm install`), plus the start from a second shell that once got lost.
describe("the README's four commands on the embedded default", () => {
  let dir: string
  let worker: ChildProcess | undefined
  let demoServices: ChildProcess | undefined
  afterAll(() => {
    if (worker?.exitCode === null) worker.kill('SIGKILL')
    if (demoServices?.exitCode === null) demoServices.kill('SIGTERM')
  })

  it('keeps the saga started before the worker and the one started while it runs', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const [, initBlock = '', block = ''] = /Your own saga in four commands[\s\S]*?```sh\n([\s\S]*?)```[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme) ?? []
    const commands = (text: string) => text.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean)
    const lines = commands(block)
    expect(commands(initBlock)).toEqual(['npx sagactl init'])
    expect(lines).toHaveLength(4)
    expect(lines.every((l) => l.startsWith('npx sagactl '))).toBe(true)
    const servicesCommand = /`(npx sagactl demo --services-only[^`]*)`/.exec(readme)?.[1]
    expect(servicesCommand).toBeDefined()

    dir = mkdtempSync(join(tmpdir(), 'sagactl-readme-'))
    writeFileSync(join(dir, 'package.json'), '{"name":"readme-flow","private":true}')
    mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true })
    symlinkSync(BIN, join(dir, 'node_modules/.bin/sagactl'))
    const sh = (line: string) => new Promise<CliResult>((resolve) => {
      const child = spawn('sh', ['-c', line], { cwd: dir, env: { ...cleanEnv(), NO_COLOR: '1' } })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
    for (const line of ['npx sagactl init', ...lines.slice(0, 3)]) {
      const r = await sh(line)
      expect(r.code, `${line}: ${r.stderr}`).toBe(0)
    }
    // As the README says, the worker needs the services' addresses: the demo's services print them.
    demoServices = spawn('sh', ['-c', `exec ${servicesCommand}`], { cwd: dir, env: { ...cleanEnv(), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'ignore'] })
    let exported = ''
    demoServices.stdout!.on('data', (d) => (exported += d))
    await waitFor(async () => exported.split('\n').filter((l) => l.startsWith('export ')).length === 6, 30_000, 50)
    const services = Object.fromEntries(exported.trim().split('\n').map((l) => /^export (DEMO_[A-Z]+_URL)=(http:\/\/127\.0\.0\.1:\d+)$/.exec(l)!.slice(1, 3)))
    expect(Object.keys(services)).toHaveLength(6)
    worker = spawn('sh', ['-c', `exec ${lines[3]}`], { cwd: dir, env: { ...cleanEnv(), ...services, NO_COLOR: '1' }, stdio: 'ignore' })
    await waitFor(async () => readOwner(join(dir, '.sagactl/data'))?.listen, 90_000, 100)
    const during = await sh('npx sagactl saga start order-checkout --input @examples/order.json --key during-1 --json')
    expect(during.code, during.stderr).toBe(0)
    const id = (JSON.parse(during.stdout) as { id: string }).id
    // The worker picks both up and runs them against the services.
    await waitFor(async () => {
      const r = await sh('npx sagactl saga list --json')
      const items = r.code === 0 ? (JSON.parse(r.stdout) as { items: Array<{ status: string }> }).items : []
      return items.length === 2 && items.every((i) => i.status === 'completed' || i.status === 'compensated')
    }, 120_000, 500)
    worker.kill('SIGTERM')
    await new Promise((r) => worker!.once('exit', r))
    const shown = await sh(`npx sagactl saga show ${id} --json`)
    expect(shown.code, shown.stderr).toBe(0)
    const first1042 = await sh('npx sagactl saga show key:order-1042 --json')
    expect((JSON.parse(first1042.stdout) as { saga: { status: string } }).saga.status).toBe('completed')
    const first = await sh('npx sagactl saga list --json')
    expect((JSON.parse(first.stdout) as { items: unknown[] }).items).toHaveLength(2)
    const again = await sh('npx sagactl saga start order-checkout --input @examples/order.json --key during-1 --json')
    expect((JSON.parse(again.stdout) as { id: string }).id).toBe(id)
  }, 300_000)
})
