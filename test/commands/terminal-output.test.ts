import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { BIN, cleanEnv, runCli } from '../helpers/cli.js'
import { pgUrl, useCliSchema } from '../helpers/db.js'
import { insertSaga, type SagaFixture } from '../helpers/fixtures.js'

// What a hostile participant or operator can put in a string: a window title (OSC 0), a
// screen clear (CSI 2J), a hyperlink (OSC 8), a bell, a carriage return that overwrites
// the line, an 8-bit CSI (C1) and a right-to-left override.
const EVIL = 'boom \u001b]0;pwned\u0007\u001b[2J\u001b]8;;http://evil.example/\u001b\\click\u001b]8;;\u001b\\ \rfake ok \u009b31m \u202edesrever'
const EVENTS = 2000
// Any control character but newline and tab, C1 controls and bidi overrides.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

describe.runIf(pgUrl)('what reaches the terminal', () => {
  const t = useCliSchema()
  let hostile: SagaFixture
  let chatty: SagaFixture
  let big: SagaFixture
  const cli = (...a: string[]) => runCli([...a, ...t.args])

  beforeAll(async () => {
    const db = t.db
    hostile = await insertSaga(db, {
      status: 'running',
      currentStep: 'pay',
      stepIndex: 0,
      lastError: EVIL,
      steps: [{ name: 'pay', status: 'failed', attempts: 2, lastError: EVIL }],
      events: [{ type: 'step.failed', step: 'pay', phase: 'action', attempt: 1, data: { error: EVIL } }],
      audit: [{ operator: EVIL, action: 'retry', reason: EVIL }],
    })
    await insertSaga(db, { status: 'failed', reason: EVIL, lastError: EVIL, intervention: { reason: EVIL } })
    chatty = await insertSaga(db, { status: 'completed' })
    // Far more than a pipe and the reader's buffers hold (about 300 KB as a table).
    await db.query(
      `INSERT INTO events (saga_id, at, type, step, phase, attempt, data)
       SELECT $1, now(), 'step.failed', 'process-payment', 'action', 1, jsonb_build_object('error', 'HTTP 503 from the payment service ' || g)
       FROM generate_series(1, ${EVENTS}) g`,
      [chatty.saga.id],
    )
    big = await insertSaga(db, { status: 'completed', input: { blob: 'x'.repeat(10_000_000), nested: [{ a: '"quoted"' }] } })
    const dir = mkdtempSync(join(tmpdir(), 'sagactl-term-'))
    const file = join(dir, 'evil.yaml')
    const evilDef = (description: string) => `name: evil-def\ndescription: ${JSON.stringify(description)}\nsteps:\n  - name: a\n    action: { http: { url: "http://127.0.0.1:1/x" } }\n`
    // Two versions, so def diff has the text to show; the latest holds EVIL exactly.
    writeFileSync(file, evilDef(`${EVIL} (draft)`))
    const applied = await cli('def', 'apply', file, '--operator', EVIL)
    expect(applied.code, applied.stderr).toBe(0)
    writeFileSync(file, evilDef(EVIL))
    expect((await cli('def', 'apply', file)).code).toBe(0)
    await db.query(`INSERT INTO workers (id, host, pid, concurrency) VALUES ($1, $1, 1, 1)`, [EVIL])
    await insertSaga(db, { status: 'running', leaseOwner: EVIL, currentStep: EVIL, dueAt: new Date(Date.now() + 60_000) })
  })

  it.each([
    ['saga show', () => ['saga', 'show', hostile.saga.id]],
    ['saga events', () => ['saga', 'events', hostile.saga.id]],
    ['saga list --failing', () => ['saga', 'list', '--failing']],
    ['saga list', () => ['saga', 'list']],
    ['stats', () => ['stats']],
    ['def show', () => ['def', 'show', 'evil-def']],
    ['def list', () => ['def', 'list']],
    ['intervention list', () => ['intervention', 'list']],
    ['saga count --by error', () => ['saga', 'count', '--by', 'error']],
    ['saga count --by step', () => ['saga', 'count', '--by', 'step']],
    ['audit list', () => ['audit', 'list']],
    ['worker list', () => ['worker', 'list']],
    ['def diff', () => ['def', 'diff', 'evil-def', '1', '2']],
  ])('%s shows outside text escaped, never raw control characters', async (_name, argv) => {
    const res = await cli(...argv())
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).not.toMatch(RAW_CONTROL)
    expect(res.stderr).not.toMatch(RAW_CONTROL)
    expect(res.stdout).toContain('\\x1b]')
  })

  it('--json keeps the stored text exactly, with C1 and bidi characters as JSON escapes', async () => {
    const res = await cli('saga', 'show', hostile.saga.id, '--json')
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).not.toMatch(RAW_CONTROL)
    const doc = JSON.parse(res.stdout)
    expect(doc.saga.lastError).toBe(EVIL)
    expect(doc.steps[0].lastError).toBe(EVIL)
    expect(doc.audit[0].operator).toBe(EVIL)
    const def = JSON.parse((await cli('def', 'show', 'evil-def', '--json')).stdout)
    expect(def.spec.description).toBe(EVIL)
  })

  it('an id full of escape sequences comes back escaped in the error', async () => {
    const res = await cli('saga', 'show', '\u001b]0;pwned\u0007\u001b[2J')
    expect(res.code).toBe(2)
    expect(res.stderr).not.toMatch(RAW_CONTROL)
    expect(res.stderr).toContain('\\x1b]0;pwned\\x07')
  })

  it('a 10 MB document prints with --json', async () => {
    const res = await cli('saga', 'show', big.saga.id, '--json')
    expect(res.code, res.stderr.slice(0, 500)).toBe(0)
    const doc = JSON.parse(res.stdout)
    expect(doc.saga.input.blob).toHaveLength(10_000_000)
    expect(doc.saga.input.nested[0].a).toBe('"quoted"')
  })

  it('long output into a reader that waits longer than ten seconds comes out whole', async () => {
    // The shape of the report: `saga events <id> | (sleep 12; wc -l)`, through a real shell
    // pipe. A reader that starts 12 s late is slower than any flush deadline of 10 s.
    const argv = ['saga', 'events', chatty.saga.id, '--limit', String(EVENTS), ...t.args].map((a) => `'${a}'`).join(' ')
    const child = spawn('sh', ['-c', `'${process.execPath}' '${BIN}' ${argv} | (sleep 12; wc -l)`], {
      env: { ...cleanEnv(), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += d))
    child.stderr!.on('data', (d) => (stderr += d))
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(stderr).toBe('')
    expect(code).toBe(0)
    // The table: a top border, the header, one row per event, a bottom border.
    expect(Number(stdout.trim())).toBe(EVENTS + 3)
  }, 45_000)
})
