import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { pgUrl, useCliSchema } from '../helpers/db.js'
import { insertSaga } from '../helpers/fixtures.js'

const DEF = 'name: plain\nsteps:\n  - name: a\n    action: { http: { url: "http://127.0.0.1:1/x" } }\n'

/** One line on stderr, the expected exit code, and never "unexpected error". */
function expectClean(res: { code: number | null; stderr: string }, code: number) {
  expect(res.code, res.stderr).toBe(code)
  expect(res.stderr).not.toContain('unexpected error')
  expect(res.stderr.trim().split('\n')).toHaveLength(1)
}

describe.runIf(pgUrl)('user mistakes and hostile input are usage errors, named', () => {
  const t = useCliSchema()
  const cli = (...a: string[]) => runCli([...a, ...t.args])
  const dir = mkdtempSync(join(tmpdir(), 'sagactl-bad-'))

  beforeAll(async () => {
    writeFileSync(join(dir, 'plain.yaml'), DEF)
    expect((await cli('def', 'apply', join(dir, 'plain.yaml'))).code).toBe(0)
  })

  it('--input with a NUL, or nested 100,000 deep, exits 2 and creates nothing', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    const deepFile = join(dir, 'deep.json')
    writeFileSync(deepFile, deep)
    for (const input of ['{"note":"a\\u0000b"}', `@${deepFile}`]) {
      expectClean(await cli('saga', 'start', 'plain', '--input', input), 2)
    }
    expect((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sagas')).rows[0]!.n).toBe(0)
  })

  it('--input @file that is not JSON does not echo the file', async () => {
    const secret = join(dir, 'shadow')
    writeFileSync(secret, 'root:$6$secret-hash-here:19000:0:99999:7:::\n')
    const res = await cli('saga', 'start', 'plain', '--input', `@${secret}`)
    expectClean(res, 2)
    expect(res.stderr).not.toContain('root')
    expect(res.stderr).not.toContain('secret-hash')
  })

  it('an idempotency key longer than the documented maximum exits 2', async () => {
    expectClean(await cli('saga', 'start', 'plain', '--key', 'k'.repeat(6000)), 2)
    expect((await cli('saga', 'start', 'plain', '--key', 'k'.repeat(200), '--json')).code).toBe(0)
  })

  it('an empty or blank --reason is refused before anything is audited', async () => {
    const { saga } = await insertSaga(t.db, { definition: 'plain', status: 'suspended' })
    for (const reason of ['', '   ']) {
      expectClean(await cli('saga', 'abort', saga.id, '--reason', reason, '--force'), 2)
    }
    // Every command that takes a reason refuses a blank one the same way.
    expectClean(await cli('saga', 'retry', saga.id, '--reason', ' '), 2)
    expectClean(await cli('participant', 'pause', 'payments', '--reason', ' '), 2)
    expect((await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action NOT LIKE 'def%'`)).rows[0]!.n).toBe(0)
    expect((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM participants')).rows[0]!.n).toBe(0)
  })

  it('def apply on a directory with a dangling symlink names the file', async () => {
    const defs = mkdtempSync(join(tmpdir(), 'sagactl-defs-'))
    writeFileSync(join(defs, 'plain.yaml'), DEF)
    symlinkSync(join(defs, 'gone.yaml'), join(defs, 'dangling.yaml'))
    const res = await cli('def', 'apply', defs)
    expectClean(res, 2)
    expect(res.stderr).toContain('dangling.yaml')
  })

  it('a malformed database URL exits 2; a Unix socket with no server exits 9', async () => {
    const bad = await runCli(['saga', 'list', '--database-url', 'postgres://user:pw@[::1/db'])
    expectClean(bad, 2)
    expect(bad.stderr).not.toContain('pw')
    expectClean(await runCli(['saga', 'list', '--database-url', 'postgresql:///test?host=/nonexistent-socket-dir']), 9)
  })
})
