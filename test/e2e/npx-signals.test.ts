import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { waitFor } from '../helpers/engine.js'

/** Processes whose command line mentions `marker` (the test's own schema name). */
const processesWith = (marker: string): string[] =>
  execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(marker) && l.includes('worker') && !l.includes('bash -c'))

// The README's own form, from a script: `npx sagactl worker … &` then `kill -TERM $!`.
// npx runs the bin through `sh -c`; killing npm used to leave node running under PID 1.
describe.runIf(pgUrl)('npx sagactl worker stops on the signal a script sends to npx', () => {
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  let dir: string

  beforeAll(async () => {
    s = await freshPgSchema()
    dir = mkdtempSync(join(tmpdir(), 'sagactl-npx-'))
    writeFileSync(join(dir, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n')
    mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true })
    symlinkSync(dirname(dirname(BIN)), join(dir, 'node_modules/sagactl'))
    symlinkSync('../sagactl/bin/run.js', join(dir, 'node_modules/.bin/sagactl'))
    expect((await runCli(['db', 'migrate', '--database-url', s.url, '--schema', s.schema])).code).toBe(0)
  })
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true })
    await s?.drop()
  })

  const env = { ...process.env, npm_config_update_notifier: 'false', npm_lifecycle_event: undefined, npm_command: undefined }
  const worker = (log: string) => `npx sagactl worker --database-url '${s.url}' --schema ${s.schema} --poll 100ms 2>'${log}'`
  const waitStarted = (log: string) => `for i in $(seq 1 600); do grep -q started '${log}' && break; sleep 0.1; done`

  async function expectStopped(log: string) {
    const stopped = await waitFor(async () => processesWith(s.schema).length === 0, 20_000, 100).catch(() => false)
    const left = processesWith(s.schema)
    for (const line of left) process.kill(Number(line.trim().split(' ')[0]), 'SIGKILL') // this test's own orphan
    expect(stopped, `still running: ${left.join('; ')}`).toBe(true)
    const text = readFileSync(log, 'utf8')
    expect(text).toMatch(/stopping \(.*\): \d+ saga\(s\) in flight/)
    expect(text).toMatch(/stopped: \d+ saga\(s\) completed by this worker; \d+ claim\(s\) \(one per run, retries included\), \d+ handed back, \d+ lease\(s\) lost, \d+ error\(s\)\n/)
  }

  it('SIGTERM from a script (`npx sagactl worker &`, `kill -TERM $!`): stops and leaves no process behind', async () => {
    const log = join(dir, 'worker-term.log')
    const script = [`${worker(log)} &`, 'NPX=$!', waitStarted(log), 'kill -TERM $NPX', 'wait $NPX'].join('\n')
    const bash = spawn('bash', ['-c', script], { cwd: dir, env, stdio: 'ignore' })
    await new Promise((r) => bash.on('close', r))
    await expectStopped(log)
  })

  it('Ctrl-C on npx (SIGINT to its process group): the same', async () => {
    const log = join(dir, 'worker-int.log')
    const npx = spawn('bash', ['-c', `exec ${worker(log)}`], { cwd: dir, env, stdio: 'ignore', detached: true })
    await waitFor(async () => existsSync(log) && readFileSync(log, 'utf8').includes('started'), 30_000, 100)
    process.kill(-npx.pid!, 'SIGINT')
    await new Promise((r) => npx.on('close', r))
    await expectStopped(log)
  })
})
