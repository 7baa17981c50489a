import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { redactUrl } from '../src/db/redact.js'
import { NOTE_VARIABLE, serverNote } from './server-note.js'

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string | null
  }
}

export const DEFAULT_TEST_URL = 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Finds the real PostgreSQL the server tests run against. Under CI a missing server is a
 * failure; elsewhere the server tests are skipped and the run says so plainly.
 */
export default async function setup(project: TestProject) {
  const fromEnv = process.env.SAGACTL_TEST_DATABASE_URL !== undefined
  const url = process.env.SAGACTL_TEST_DATABASE_URL ?? DEFAULT_TEST_URL
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    project.provide('pgUrl', url)
    process.env[NOTE_VARIABLE] = serverNote(url, fromEnv)
  } catch (err) {
    if (process.env.CI) {
      throw new Error(`PostgreSQL is required under CI but ${redactUrl(url)} is unreachable: ${(err as Error).message}`)
    }
    const note = serverNote(url, fromEnv, (err as Error).message)
    process.env[NOTE_VARIABLE] = note
    process.stderr.write(`\n  ${note}\n  Only the embedded PGlite tests run.\n\n`)
    project.provide('pgUrl', null)
  } finally {
    await client.end().catch(() => {})
  }
}
