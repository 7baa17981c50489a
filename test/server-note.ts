import type { Reporter } from 'vitest/node'
import { redactUrl } from '../src/db/redact.js'

/** The line `npm test` ends with: which server the real-server tests used, or why they were skipped. */
export function serverNote(url: string, fromEnv: boolean, error?: string): string {
  const shown = redactUrl(url)
  if (error === undefined) return `real-server tests ran against ${shown}`
  const how = fromEnv
    ? 'SAGACTL_TEST_DATABASE_URL points there: start that server or fix the URL'
    : 'start PostgreSQL there, or set SAGACTL_TEST_DATABASE_URL to another server'
  return `real-server tests SKIPPED: ${shown} is unreachable (${error}); ${how}`
}

export const NOTE_VARIABLE = 'SAGACTL_TEST_SERVER_NOTE'

/** Listed after the default reporter, so its line comes after the summary. */
export default class ServerNoteReporter implements Reporter {
  onTestRunEnd(): void {
    const note = process.env[NOTE_VARIABLE]
    if (note) process.stdout.write(`\n  ${note}\n\n`)
  }
}
