import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadMigrations } from '../../src/db/migrator.js'
import { runCli } from '../helpers/cli.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'

describe.runIf(pgUrl)('db commands on the real server', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterAll(async () => {
    for (const c of cleanups) await c()
  })

  it('two concurrent migrates apply each migration exactly once (each waits for the other between migrations)', async () => {
    const s = await freshPgSchema()
    cleanups.push(s.drop)
    const args = ['db', 'migrate', '--json', '--database-url', s.url, '--schema', s.schema]
    const [a, b] = await Promise.all([runCli(args), runCli(args)])
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0])
    // Each migration is its own transaction under the schema's lock, so the two may share
    // the work; together they apply every migration, none twice.
    const versions = [JSON.parse(a.stdout), JSON.parse(b.stdout)].flatMap((r: { applied: Array<{ version: number }> }) => r.applied.map((m) => m.version)).sort((x, y) => x - y)
    expect(versions).toEqual(loadMigrations().map((m) => m.version))
    const status = await runCli(['db', 'status', '--json', '--database-url', s.url, '--schema', s.schema])
    const doc = JSON.parse(status.stdout)
    expect(doc).toMatchObject({ schema: s.schema, upToDate: true })
    expect(doc.migrations[0]).toMatchObject({ version: 1, name: 'init', state: 'applied' })
    expect(doc.database).toBe(s.url)
  })

  it('a hint that names a command repeats the flags that chose the database and schema, password redacted', async () => {
    const s = await freshPgSchema()
    const url = new URL(s.url)
    url.password = 'topsecret'
    const res = await runCli(['saga', 'list', '--database-url', url.toString(), '--schema', s.schema])
    expect(res.code).toBe(9)
    url.password = '****'
    expect(res.stderr).toContain(`run: sagactl db migrate --database-url ${url.toString()} --schema ${s.schema}\n`)
    expect(res.stderr).not.toContain('topsecret')
  })

  it('--dry-run lists pending migrations and creates nothing', async () => {
    const s = await freshPgSchema()
    cleanups.push(s.drop)
    const dry = await runCli(['db', 'migrate', '--dry-run', '--json', '--database-url', s.url, '--schema', s.schema])
    expect(dry.code).toBe(0)
    const doc = JSON.parse(dry.stdout)
    expect(doc).toMatchObject({ dryRun: true, applied: [] })
    expect(doc.pending.map((m: { version: number }) => m.version)).toEqual(loadMigrations().map((m) => m.version))
    expect(doc.pending[0]).toMatchObject({ version: 1, name: 'init' })
    const status = await runCli(['db', 'status', '--json', '--database-url', s.url, '--schema', s.schema])
    expect(JSON.parse(status.stdout).migrations[0].state).toBe('pending')
  })

  it('read commands go to --read-database-url and never touch the primary', async () => {
    const s = await freshPgSchema()
    cleanups.push(s.drop)
    expect((await runCli(['db', 'migrate', '--database-url', s.url, '--schema', s.schema])).code).toBe(0)
    const primaryDown = ['--database-url', 'postgres://127.0.0.1:1/x', '--schema', s.schema]
    const list = await runCli(['saga', 'list', '--json', ...primaryDown, '--read-database-url', s.url])
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual({ items: [], next: null })
    const viaEnv = await runCli(['stats', '--json', ...primaryDown], { env: { SAGACTL_READ_DATABASE_URL: s.url } })
    expect(viaEnv.code, viaEnv.stderr).toBe(0)
    expect((await runCli(['saga', 'list', ...primaryDown])).code).toBe(9)
  })

  it('redacts the password wherever the URL is printed', async () => {
    const withPassword = pgUrl!.replace('postgres://postgres@', 'postgres://postgres:hunter2@')
    const s = await freshPgSchema()
    cleanups.push(s.drop)
    const res = await runCli(['db', 'status', '--database-url', withPassword, '--schema', s.schema])
    expect(res.code).toBe(0)
    expect(res.stdout).not.toContain('hunter2')
    expect(res.stdout).toContain('postgres:****@')
  })

  it('redacts a password given as a query parameter in the status header', async () => {
    const s = await freshPgSchema()
    cleanups.push(s.drop)
    const url = `${pgUrl!}${pgUrl!.includes('?') ? '&' : '?'}password=hunter22`
    const res = await runCli(['db', 'status', '--database-url', url, '--schema', s.schema])
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout + res.stderr).not.toContain('hunter22')
    expect(res.stdout).toContain('password=****')
  })
})

describe('db commands on the embedded database and errors', () => {
  it('migrates and reports status in ./.sagactl/data by default', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sagactl-cli-'))
    const first = await runCli(['db', 'migrate'], { cwd })
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain(`applied ${loadMigrations().length} migration(s)`)
    const second = await runCli(['db', 'migrate', '--json'], { cwd })
    expect(JSON.parse(second.stdout).applied).toEqual([])
    const status = await runCli(['db', 'status', '--json'], { cwd })
    expect(JSON.parse(status.stdout)).toMatchObject({ database: `pglite:${join(cwd, '.sagactl/data')}`, upToDate: true })
  })

  it('an unreachable server is one line, exit 9, no stack', async () => {
    const res = await runCli(['db', 'status', '--database-url', 'postgres://u:topsecret@127.0.0.1:1/x'])
    expect(res.code).toBe(9)
    expect(res.stderr.trim().split('\n')).toHaveLength(1)
    expect(res.stderr).toMatch(/^error: database unreachable at postgres:\/\/u:\*\*\*\*@127\.0\.0\.1:1\/x/)
    expect(res.stderr).not.toContain('topsecret')
    const query = await runCli(['db', 'status', '--database-url', 'postgres://u@127.0.0.1:1/x?password=topsecret'])
    expect(query.code).toBe(9)
    expect(query.stderr).toMatch(/^error: database unreachable at postgres:\/\/u@127\.0\.0\.1:1\/x\?password=\*\*\*\*:/)
    expect(res.stderr).not.toMatch(/\n\s+at /)
  })

  it('an unmigrated schema is one line that says what to run, exit 9, for any command that needs it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sagactl-unmigrated-'))
    for (const args of [['saga', 'list'], ['worker'], ['stats', '--schema', 'other']]) {
      const res = await runCli(args, { cwd })
      expect(res.code, args.join(' ')).toBe(9)
      expect(res.stderr.trim().split('\n')).toHaveLength(1)
      expect(res.stderr).toMatch(/^error: schema "(sagactl|other)" is not migrated in pglite:.* — run: sagactl db migrate/)
    }
    const other = await runCli(['stats', '--schema', 'other'], { cwd })
    expect(other.stderr).toContain('run: sagactl db migrate --schema other')
  })

  it('--json errors are one document on stdout too', async () => {
    const res = await runCli(['db', 'status', '--json', '--database-url', 'postgres://127.0.0.1:1/x'])
    expect(res.code).toBe(9)
    expect(JSON.parse(res.stdout)).toMatchObject({ error: { code: 'database_unreachable', exitCode: 9 } })
  })

  it('bad flags and schema names are usage errors (exit 2)', async () => {
    const bad = await runCli(['db', 'migrate', '--nope'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^error: sagactl db migrate: Nonexistent flag: --nope — see: sagactl db migrate --help\n$/)
    const schema = await runCli(['db', 'status', '--schema', 'Bad-Name', '--database-url', 'pglite:memory'])
    expect(schema.code).toBe(2)
    expect(schema.stderr).toContain('invalid schema name "Bad-Name"')
  })

  it('reads the database from sagactl.yaml, and the environment wins over it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sagactl-cfg-'))
    const { writeFileSync } = await import('node:fs')
    writeFileSync(join(cwd, 'sagactl.yaml'), `database:\n  url: pglite:${join(cwd, 'from-yaml')}\n`)
    const fromYaml = await runCli(['db', 'status', '--json'], { cwd })
    expect(JSON.parse(fromYaml.stdout).database).toBe(`pglite:${join(cwd, 'from-yaml')}`)
    const fromEnv = await runCli(['db', 'status', '--json'], { cwd, env: { DATABASE_URL: 'postgres://127.0.0.1:1/x' } })
    expect(fromEnv.code).toBe(9)
    const fromSagactlEnv = await runCli(['db', 'status', '--json'], { cwd, env: { DATABASE_URL: 'postgres://127.0.0.1:1/x', SAGACTL_DATABASE_URL: 'pglite:memory' } })
    expect(JSON.parse(fromSagactlEnv.stdout).database).toBe('pglite:memory')
    const fromFlag = await runCli(['db', 'status', '--json', '--database-url', 'pglite:memory'], { cwd, env: { SAGACTL_DATABASE_URL: 'postgres://127.0.0.1:1/x' } })
    expect(fromFlag.code).toBe(0)
  })
})
