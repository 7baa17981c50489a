import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'

const EXAMPLE = fileURLToPath(new URL('../../examples/order-checkout.yaml', import.meta.url))
const FIXTURES = fileURLToPath(new URL('../fixtures/defs/', import.meta.url))

const BROKEN_PROBLEMS = [
  'mixed/broken.yaml:4:10 timeout: invalid duration "soon": expected milliseconds or a string like 200ms, 10s, 5m, 1h, 1d',
  'mixed/broken.yaml:7:67 steps[0].action.http.method: must be one of POST, PUT, PATCH, DELETE (the step context is sent as a JSON body)',
  'mixed/broken.yaml:8:5 steps[0]: unknown key "compensaton"',
]

const lines = (s: string) => s.trim().split('\n')

// One embedded database for the whole file: creating a PGlite data directory costs seconds.
// Commands that open it run one after another (one process owns a data directory at a time).
describe('def commands (embedded database)', () => {
  let cwd: string
  const cli = (...args: string[]) => runCli(args, { cwd })

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'sagactl-def-'))
    mkdirSync(join(cwd, 'defs'))
    copyFileSync(EXAMPLE, join(cwd, 'defs/order-checkout.yaml'))
    copyFileSync(join(FIXTURES, 'refund.json'), join(cwd, 'defs/refund.json'))
    writeFileSync(join(cwd, 'defs/README.md'), 'not a definition: ignored by def apply\n')
    mkdirSync(join(cwd, 'mixed'))
    copyFileSync(join(FIXTURES, 'refund.json'), join(cwd, 'mixed/refund.json'))
    copyFileSync(join(FIXTURES, 'broken.yaml'), join(cwd, 'mixed/broken.yaml'))
    const migrated = await cli('db', 'migrate')
    expect(migrated.code, migrated.stderr).toBe(0)
  })
  afterAll(() => rmSync(cwd, { recursive: true, force: true }))

  it('validate works offline: OK line, or file:line:col problems on stderr with exit 2', async () => {
    // No database is opened, so these may run side by side (an unreachable URL proves it).
    const offline = ['--database-url', 'postgres://127.0.0.1:1/none']
    const [ok, bad, badJson, missing] = await Promise.all([
      cli('def', 'validate', 'defs/order-checkout.yaml', ...offline),
      cli('def', 'validate', 'mixed/broken.yaml', ...offline),
      cli('def', 'validate', 'mixed/broken.yaml', '--json', ...offline),
      cli('def', 'validate', 'defs/nope.yaml', ...offline),
    ])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toBe('OK defs/order-checkout.yaml: order-checkout (6 steps)\n')

    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe('')
    expect(lines(bad.stderr)).toEqual(BROKEN_PROBLEMS)

    expect(badJson.code).toBe(2)
    const doc = JSON.parse(badJson.stdout)
    expect(Object.keys(doc).sort()).toEqual(['file', 'problems', 'valid'])
    expect(doc).toMatchObject({ file: 'mixed/broken.yaml', valid: false })
    expect(doc.problems[0]).toEqual({ file: 'mixed/broken.yaml', line: 4, col: 10, message: expect.stringContaining('invalid duration "soon"') })
    expect(doc.problems).toHaveLength(3)

    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe('error: cannot read defs/nope.yaml: no such file — to write the example definition and input into ./examples, run: sagactl init\n')
  })

  it('apply refuses a directory with an invalid file and applies none of it', async () => {
    const res = await cli('def', 'apply', 'mixed')
    expect(res.code).toBe(2)
    expect(lines(res.stderr)).toEqual([...BROKEN_PROBLEMS, 'error: 3 problems in 1 file: nothing applied — fix them and apply again'])
    const list = await cli('def', 'list', '--json')
    expect(JSON.parse(list.stdout)).toEqual({ items: [], next: null })
  })

  it('apply registers a file, then a directory: created once, unchanged after', async () => {
    const first = await cli('def', 'apply', 'defs/order-checkout.yaml', '--operator', 'alice', '--json')
    expect(first.code, first.stderr).toBe(0)
    expect(JSON.parse(first.stdout)).toEqual({
      items: [{ name: 'order-checkout', version: 1, checksum: expect.stringMatching(/^[0-9a-f]{64}$/), created: true, file: 'defs/order-checkout.yaml' }],
    })

    const dir = await cli('def', 'apply', 'defs', '--operator', 'bob')
    expect(dir.code, dir.stderr).toBe(0)
    const rows = lines(dir.stdout).map((l) => l.split('│').map((c) => c.trim()).filter(Boolean))
    expect(rows).toContainEqual(['order-checkout', '1', 'unchanged', 'defs/order-checkout.yaml'])
    expect(rows).toContainEqual(['refund', '1', 'created', 'defs/refund.json'])
    expect(dir.stdout).not.toContain('README')

    const again = await cli('def', 'apply', 'defs', '--json')
    expect(JSON.parse(again.stdout).items.map((i: { name: string; created: boolean }) => [i.name, i.created])).toEqual([
      ['order-checkout', false],
      ['refund', false],
    ])
  })

  it('list and show print tables for people and the stored shapes with --json', async () => {
    const list = await cli('def', 'list', '--json')
    const doc = JSON.parse(list.stdout)
    expect(doc.next).toBeNull()
    expect(doc.items).toEqual([
      {
        name: 'order-checkout',
        latestVersion: 1,
        versions: 1,
        description: 'Validate the customer, reserve stock, create the order, take payment, award points, notify',
        steps: 6,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
        sagas: { active: 0, total: 0 },
      },
      expect.objectContaining({ name: 'refund', latestVersion: 1, steps: 2, sagas: { active: 0, total: 0 } }),
    ])
    const human = await cli('def', 'list')
    expect(lines(human.stdout)[1]).toMatch(/name\s+│ latest │ versions │ steps │ active sagas │ total sagas │ description/)
    expect(human.stdout).toMatch(/│ refund\s+│ 1\s+│ 1\s+│ 2\s+│ 0\s+│ 0\s+│ Refund a captured payment/)

    const show = await cli('def', 'show', 'order-checkout', '--json')
    const def = JSON.parse(show.stdout)
    expect(Object.keys(def).sort()).toEqual(['checksum', 'createdAt', 'createdBy', 'name', 'source', 'spec', 'version'])
    expect(def).toMatchObject({ name: 'order-checkout', version: 1, createdBy: 'alice', source: readFileSync(EXAMPLE, 'utf8') })
    expect(def.spec.timeout).toBe(120_000)
    expect(def.spec.steps[1]).toMatchObject({ name: 'reserve-inventory', timeout: 5000, retry: { maxAttempts: 5, backoff: 'fixed', initialDelay: 100 } })

    const text = await cli('def', 'show', 'refund', '--version', '1')
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^refund version 1\n/)
    expect(text.stdout).toContain('by bob')
    expect(text.stdout).toMatch(/timeout\s+none/)
    expect(text.stdout).toMatch(/│ refund-payment\s+│ PUT \$\{env:PAYMENT_URL\}\/refunds\s+│\s+│ no retries\s+│ 10s\s+│ suspend\s+│\s+│/)
    expect(text.stdout).toMatch(/│ notify-customer\s+│ \.\/steps\/notify\.js#refundIssued\s+│\s+│ 3x exponential 200ms\.\.30s jitter\s+│ 30s\s+│ compensate\s+│\s+│/)
    expect(text.stdout).toContain(readFileSync(join(FIXTURES, 'refund.json'), 'utf8').trimEnd())
  })

  it('show prints a long fixed delay as written (no default cap, no jitter not asked for), the compensation retry, and marks DTM calls', async () => {
    writeFileSync(join(cwd, 'slow.yaml'), [
      'name: slow-transfer',
      'defaults: { protocol: dtm }',
      'steps:',
      '  - name: trans-out',
      '    action: { http: { url: "http://bank/TransOut" } }',
      '    compensation: { http: { url: "http://bank/TransOutCom" } }',
      '    retry: { backoff: fixed, initialDelay: 1h }',
    ].join('\n'))
    expect((await cli('def', 'apply', 'slow.yaml')).code).toBe(0)
    const text = await cli('def', 'show', 'slow-transfer')
    expect(text.stdout).toMatch(/│ trans-out\s+│ http:\/\/bank\/TransOut \(dtm\)\s+│ http:\/\/bank\/TransOutCom \(dtm\)\s+│ 3x fixed 1h 00m\s+│ 10s\s+│ compensate\s+│ 5x exponential 1s\.\.1m 00s jitter\s+│/)
    expect(text.stdout).not.toContain('..30s')
    const json = JSON.parse((await cli('def', 'show', 'slow-transfer', '--json')).stdout)
    expect(json.spec.steps[0].retry).toMatchObject({ initialDelay: 3_600_000, maxDelay: 3_600_000 })
  })

  it('show of an unknown name or version is not found (exit 3), one line', async () => {
    const name = await cli('def', 'show', 'nope')
    expect(name.code).toBe(3)
    expect(name.stderr).toBe('error: definition "nope" not found — see: sagactl def list\n')
    const version = await cli('def', 'show', 'order-checkout', '--version', '7', '--json')
    expect(version.code).toBe(3)
    expect(version.stderr).toBe('error: definition "order-checkout" has no version 7 (latest is 1)\n')
    expect(JSON.parse(version.stdout)).toMatchObject({ error: { code: 'not_found', exitCode: 3 } })
  })
})
