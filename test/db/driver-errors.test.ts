import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { DatabaseRefusedError, ExitCode, UsageError } from '../../src/errors.js'
import { runCli } from '../helpers/cli.js'
import { drivers, pgUrl, useTestDatabase } from '../helpers/db.js'

describe.each(drivers)('database conditions are named, not "unexpected" (%s)', (kind) => {
  const t = useTestDatabase(kind)

  it('a read-only transaction: exit 9, saying read-only', async () => {
    const err = await t.db
      .transaction(async (tx) => {
        await tx.query('SET TRANSACTION READ ONLY')
        await tx.query(`INSERT INTO workers (id, host, pid, concurrency) VALUES ('w', 'h', 1, 1)`)
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DatabaseRefusedError)
    expect((err as DatabaseRefusedError).exitCode).toBe(ExitCode.database)
    expect((err as Error).message).toContain('read-only')
    expect((err as Error).message).toContain('25006')
  })

  it('a value PostgreSQL cannot store: exit 2', async () => {
    const err = await t.db.query(`SELECT $1::jsonb`, ['{"a":"\\u0000"}']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UsageError)
  })
})

describe.runIf(pgUrl)('database conditions on the real server', () => {
  const t = useTestDatabase('pg')

  it('a role without the privilege: exit 9, naming the privilege', async () => {
    const role = `sagactl_noaccess_${randomBytes(3).toString('hex')}`
    await t.db.exec(`CREATE ROLE ${role} NOLOGIN; GRANT USAGE ON SCHEMA "${t.schema}" TO ${role}`)
    try {
      const err = await t.db
        .transaction(async (tx) => {
          await tx.query(`SET LOCAL ROLE ${role}`)
          await tx.query('SELECT count(*) FROM sagas')
        })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(DatabaseRefusedError)
      expect((err as Error).message).toMatch(/privilege.*42501/)
    } finally {
      await t.db.exec(`REVOKE USAGE ON SCHEMA "${t.schema}" FROM ${role}; DROP ROLE ${role}`)
    }
  })

  it('sslmode=require against a server without TLS: exit 9, saying so', async () => {
    const ssl = await t.db.query<{ ssl: string }>('SHOW ssl')
    if (ssl.rows[0]!.ssl === 'on') return
    const url = `${pgUrl}${pgUrl!.includes('?') ? '&' : '?'}sslmode=require`
    const res = await runCli(['saga', 'list', '--database-url', url])
    expect(res.code, res.stderr).toBe(9)
    expect(res.stderr).toMatch(/does not support SSL.*TLS/)
    expect(res.stderr).not.toContain('unexpected')
  })
})
