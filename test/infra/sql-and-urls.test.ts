import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { qualify } from '../../src/db/qualified.js'
import { redactUrl } from '../../src/db/redact.js'
import { takePoolerParam } from '../../src/db/url-params.js'

/** Every table the migrations create, and the migrator's own. */
const TABLES = [
  'schema_migrations',
  ...readdirSync('sql').flatMap((f) => [...readFileSync(join('sql', f), 'utf8').matchAll(/CREATE TABLE \{\{schema\}\}\.(\w+)/g)].map((m) => m[1]!)),
]

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.tsx?$/.test(name) ? [path] : []
  })
}

describe('SQL never depends on search_path', () => {
  it('every table sagactl queries is named with its schema', () => {
    const unqualified = new RegExp(`\\b(FROM|JOIN|INTO|UPDATE|USING)\\s+(${TABLES.join('|')})\\b`, 'g')
    const offenders = sourceFiles('src').flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(unqualified)].map((m) => `${file}: ${m[0]}`),
    )
    expect(offenders).toEqual([])
  })

  it('a table name chosen at run time is qualified too', () => {
    const dynamic = /\b(FROM|JOIN|INTO|UPDATE)\s+\$\{(?!quoteIdent|schema\})/g
    const offenders = sourceFiles('src').flatMap((file) => [...readFileSync(file, 'utf8').matchAll(dynamic)].map((m) => `${file}: ${m[0]}`))
    expect(offenders).toEqual([])
  })

  it('the placeholder becomes the quoted schema, everywhere in the statement', () => {
    expect(qualify('SELECT 1 FROM {{schema}}.sagas s JOIN {{schema}}.steps t ON true', 'billing')).toBe(
      'SELECT 1 FROM "billing".sagas s JOIN "billing".steps t ON true',
    )
    expect(qualify('SELECT 1', 'billing')).toBe('SELECT 1')
  })
})

describe('?pgbouncer=true', () => {
  it('is taken out of the URL and every other parameter is left exactly as written', () => {
    expect(takePoolerParam('postgres://u@h:6432/db?pgbouncer=true')).toEqual({ url: 'postgres://u@h:6432/db', pgbouncer: true })
    expect(takePoolerParam('postgres://u@h/db?sslmode=require&pgbouncer=true&application_name=a%20b')).toEqual({
      url: 'postgres://u@h/db?sslmode=require&application_name=a%20b',
      pgbouncer: true,
    })
    expect(takePoolerParam('postgres://u@h/db?pgbouncer=false')).toEqual({ url: 'postgres://u@h/db', pgbouncer: false })
    expect(takePoolerParam('postgres://u@h/db')).toEqual({ url: 'postgres://u@h/db', pgbouncer: false })
    expect(takePoolerParam('pglite:./data?pgbouncer=1')).toEqual({ url: 'pglite:./data', pgbouncer: true })
  })

  it('refuses a value that is not a boolean', () => {
    expect(() => takePoolerParam('postgres://h/db?pgbouncer=maybe')).toThrow(/pgbouncer=maybe/)
  })

  it('a URL carrying it still has its password redacted', () => {
    const shown = redactUrl('postgres://app:s3cret@pool:6432/app?pgbouncer=true')
    expect(shown).not.toContain('s3cret')
    expect(shown).toContain('pgbouncer=true')
  })
})
