import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'

// A definition whose services are given by ${env:...}: an unset variable is a clear error
// when the worker starts, and a failure at once (not four retries) when a call needs it.
describe.runIf(pgUrl)('unset environment variables of a definition', () => {
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  const db = () => ['--database-url', s.url, '--schema', s.schema]

  beforeAll(async () => {
    s = await freshPgSchema()
    const dir = mkdtempSync(join(tmpdir(), 'sagactl-env-'))
    writeFileSync(join(dir, 'checkout.yaml'), [
      'name: checkout',
      'defaults: { retry: { maxAttempts: 4, backoff: fixed, initialDelay: 10ms } }',
      'steps:',
      '  - { name: validate-customer, action: { http: { url: "${env:DEMO_CUSTOMER_URL}/customers/validate" } } }',
    ].join('\n'))
    expect((await runCli(['db', 'migrate', ...db()])).code).toBe(0)
    expect((await runCli(['def', 'apply', join(dir, 'checkout.yaml'), ...db()])).code).toBe(0)
  })
  afterAll(async () => {
    await s?.drop()
  })

  it('worker refuses to start, naming the variable and where it is used (exit 2, one line)', async () => {
    const res = await runCli(['worker', ...db()], { env: { DEMO_CUSTOMER_URL: undefined } })
    expect(res.code).toBe(2)
    expect(res.stderr.trim().split('\n')).toEqual([
      "error: environment variable not set: DEMO_CUSTOMER_URL (used by checkout validate-customer) — set it in the worker's environment; the definitions refer to it with ${env:NAME}",
    ])
  })

  it('a call that needs it fails once and compensates, instead of using up the retries', async () => {
    const res = await runCli(['saga', 'run', 'checkout', '--input', '{}', ...db()], { env: { DEMO_CUSTOMER_URL: undefined } })
    expect(res.code).toBe(5)
    expect(res.stderr).toContain('✗ validate-customer')
    expect(res.stderr.match(/environment variable DEMO_CUSTOMER_URL is not set/g)).toHaveLength(1)
    expect(res.stdout).toMatch(/^compensated .*environment variable DEMO_CUSTOMER_URL is not set/)
  })
})
