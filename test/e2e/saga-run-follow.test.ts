import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'

// `saga run` prints progress from the journal, so the steps show whoever executes them:
// with a worker on the same schema, the worker usually takes the saga first.
describe.runIf(pgUrl)('saga run with a worker serving the same schema', () => {
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  let dir: string
  let worker: ChildProcess
  let log = ''
  const db = () => ['--database-url', s.url, '--schema', s.schema]

  beforeAll(async () => {
    s = await freshPgSchema()
    dir = mkdtempSync(join(tmpdir(), 'sagactl-run-follow-'))
    writeFileSync(join(dir, 'three.yaml'), scriptedDefinition('three', [{ name: 'reserve' }, { name: 'charge' }, { name: 'ship' }]))
    expect((await runCli(['db', 'migrate', ...db()])).code).toBe(0)
    expect((await runCli(['def', 'apply', join(dir, 'three.yaml'), ...db()])).code).toBe(0)
    worker = spawnCli(['worker', '--defs', FIXTURE_STEPS, '--poll', '50ms', ...db()], { env: { SAGA_CALL_LOG: join(dir, 'calls.ndjson') } })
    worker.stderr!.on('data', (d) => (log += d))
    await waitFor(async () => log.includes('started'), 60_000, 100)
  })
  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM')
      await new Promise((r) => worker.on('close', r))
    }
    await s?.drop()
  })

  it('shows every step as it happens, then the final status', async () => {
    const res = await runCli(['saga', 'run', 'three', '--input', '{"script":{"charge":{"action":["transient","ok"]}}}', '--defs', FIXTURE_STEPS, ...db()], { env: { SAGA_CALL_LOG: join(dir, 'calls.ndjson') } })
    expect(res.code, res.stderr).toBe(0)
    const lines = res.stderr.trim().split('\n')
    expect(lines[0]).toMatch(/^saga [0-9a-f-]{36} \(three@1\)$/)
    expect(lines.slice(1).map((l) => l.replace(/ \d[\d.]*(ms|s)\b/, ' <t>'))).toEqual([
      '  ✓ reserve <t>',
      '  ✗ charge <t> transient: charge flaked',
      '  ✓ charge <t>',
      '  ✓ ship <t>',
    ])
    expect(res.stdout).toMatch(/^completed [0-9a-f-]{36}\n$/)
    const pids = existsSync(join(dir, 'calls.ndjson')) ? readFileSync(join(dir, 'calls.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).pid) : []
    expect(pids).toHaveLength(4)
  })
})
