import { redactUrl } from '../db/redact.js'

/** The flags that chose a command's database and schema, as they must be repeated (password redacted). */
export interface DatabaseFlags {
  url?: string
  schema?: string
}

export function databaseArgs(f: DatabaseFlags): string {
  return `${f.url ? ` --database-url ${redactUrl(f.url)}` : ''}${f.schema ? ` --schema ${f.schema}` : ''}`
}

/** Hints naming a command that opens no database: nothing to repeat. */
const NO_DATABASE = /\bsagactl (init|help)\b/

/**
 * A hint that names a command ("run: sagactl db migrate") must lead back to the same
 * database: run literally, it would otherwise act on the embedded default. A database
 * chosen by environment or sagactl.yaml is chosen again the same way, so only flags are added.
 */
export function withDatabaseArgs(hint: string | undefined, f: DatabaseFlags): string | undefined {
  if (!hint || !/\bsagactl [a-z]/.test(hint) || NO_DATABASE.test(hint) || (!f.url && !f.schema)) return hint
  const base = f.schema ? hint.replace(/ --schema \S+/g, '') : hint
  return `${base}${databaseArgs(f)}`
}
