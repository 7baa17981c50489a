import { recordAudit } from './audit.js'
import { NotFoundError } from '../errors.js'
import type { Database, Queryable } from './types.js'
import type { SagaDefinition } from '../engine/definition.js'
import { TERMINAL_STATUSES } from '../engine/types.js'

/** One applied version of a definition; `spec` is what the engine runs, `source` the file as applied. */
export interface StoredDefinition {
  name: string
  version: number
  checksum: string
  spec: SagaDefinition
  source: string
  createdAt: Date
  createdBy: string | null
}

export interface DefinitionSummary {
  name: string
  latestVersion: number
  versions: number
  description: string | null
  steps: number
  /** When the latest version was applied. */
  createdAt: Date
  /** `active` counts sagas not yet finished (pending, running, compensating, suspended). */
  sagas: { active: number; total: number }
}

export interface ApplyInput {
  spec: SagaDefinition
  source: string
  checksum: string
  operator: string
  file?: string
}

const COLUMNS = 'name, version, checksum, spec, source, created_at, created_by'

type Row = Record<string, unknown>

function toDefinition(r: Row): StoredDefinition {
  return {
    name: r.name as string,
    version: r.version as number,
    checksum: r.checksum as string,
    spec: (typeof r.spec === 'string' ? JSON.parse(r.spec) : r.spec) as SagaDefinition,
    source: r.source as string,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(String(r.created_at)),
    createdBy: (r.created_by as string | null) ?? null,
  }
}

/**
 * Registers a definition: content already stored under this name (by checksum) is
 * returned as it is; anything else becomes the next version. Versions are numbered
 * under a transaction-scoped advisory lock on the name, so concurrent applies of one
 * name queue instead of colliding on the primary key. The lock's first key is the
 * schema, so the same name in another schema does not wait.
 */
export async function applyDefinition(db: Database, input: ApplyInput): Promise<{ definition: StoredDefinition; created: boolean }> {
  const name = input.spec.name
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('sagactl.definitions:' || current_schema()), hashtext($1))`, [name])
    const same = await tx.query(`SELECT ${COLUMNS} FROM {{schema}}.definitions WHERE name = $1 AND checksum = $2`, [name, input.checksum])
    if (same.rows[0]) return { definition: toDefinition(same.rows[0]), created: false }

    const inserted = await tx.query(
      `INSERT INTO {{schema}}.definitions (name, version, checksum, spec, source, created_by)
       SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4, $5 FROM {{schema}}.definitions WHERE name = $1
       RETURNING ${COLUMNS}`,
      [name, input.checksum, JSON.stringify(input.spec), input.source, input.operator],
    )
    const definition = toDefinition(inserted.rows[0]!)
    await recordAudit(tx, {
      operator: input.operator,
      action: 'def.apply',
      target: name,
      details: { version: definition.version, checksum: input.checksum, file: input.file ?? null },
    })
    return { definition, created: true }
  })
}

/** The given version, or the latest when `version` is omitted; null when there is none. */
export async function getDefinition(q: Queryable, name: string, version?: number): Promise<StoredDefinition | null> {
  const res =
    version === undefined
      ? await q.query(`SELECT ${COLUMNS} FROM {{schema}}.definitions WHERE name = $1 ORDER BY version DESC LIMIT 1`, [name], { name: 'sagactl_definition_latest' })
      : await q.query(`SELECT ${COLUMNS} FROM {{schema}}.definitions WHERE name = $1 AND version = $2`, [name, version])
  return res.rows[0] ? toDefinition(res.rows[0]) : null
}

/**
 * Two stored versions of one definition (undefined: the latest), as `def diff` compares them;
 * a missing one is a NotFoundError that says which, and the latest there is.
 */
export async function getDefinitionPair(q: Queryable, name: string, from: number | undefined, to: number | undefined): Promise<[StoredDefinition, StoredDefinition]> {
  const [a, b] = await Promise.all([getDefinition(q, name, from), getDefinition(q, name, to)])
  if (a && b) return [a, b]
  const latest = await getDefinition(q, name)
  if (!latest) throw new NotFoundError(`definition "${name}" not found`, 'see: sagactl def list')
  throw new NotFoundError(`definition "${name}" has no version ${a ? to : from} (latest is ${latest.version})`)
}

/** Every definition by name, with its latest version and how many sagas use it. */
export async function listDefinitions(q: Queryable): Promise<DefinitionSummary[]> {
  const defs = await q.query<{ name: string; version: number; versions: number; description: string | null; steps: number; created_at: unknown }>(
    `SELECT DISTINCT ON (name)
            name, version, (count(*) OVER (PARTITION BY name))::int AS versions,
            spec->>'description' AS description, jsonb_array_length(spec->'steps') AS steps, created_at
       FROM {{schema}}.definitions
      ORDER BY name, version DESC`,
  )
  if (defs.rows.length === 0) return []

  // One grouped query for all definitions; the filter on `definition` can use sagas_definition_id.
  const counts = await q.query<{ definition: string; status: string; n: number }>(
    `SELECT definition, status, count(*)::int AS n FROM {{schema}}.sagas WHERE definition = ANY($1::text[]) GROUP BY definition, status`,
    [defs.rows.map((r) => r.name)],
  )
  const terminal = new Set<string>(TERMINAL_STATUSES)
  const sagas = new Map<string, { active: number; total: number }>()
  for (const c of counts.rows) {
    const s = sagas.get(c.definition) ?? { active: 0, total: 0 }
    s.total += c.n
    if (!terminal.has(c.status)) s.active += c.n
    sagas.set(c.definition, s)
  }

  return defs.rows.map((r) => ({
    name: r.name,
    latestVersion: r.version,
    versions: r.versions,
    description: r.description ?? null,
    steps: r.steps,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(String(r.created_at)),
    sagas: sagas.get(r.name) ?? { active: 0, total: 0 },
  }))
}
