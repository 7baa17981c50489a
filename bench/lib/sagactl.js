// The built product, loaded lazily so a missing build is one clear message.
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { requireBuild } from './util.js'

let dist = null

export async function product() {
  if (dist) return dist
  requireBuild()
  const [open, migrator, definitions, definition, engine] = await Promise.all([
    import('../../dist/db/open.js'),
    import('../../dist/db/migrator.js'),
    import('../../dist/db/definitions.js'),
    import('../../dist/engine/definition.js'),
    import('../../dist/engine/engine.js'),
  ])
  dist = { ...open, ...migrator, ...definitions, ...definition, ...engine }
  return dist
}

/** Drops and recreates `schema`, migrates it, and applies the definitions given as YAML texts. */
export async function freshSchema(url, schema, yamls = []) {
  const p = await product()
  const db = await p.openDatabase({ url, schema, max: 4 })
  try {
    await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await p.migrate(db)
    for (const y of yamls) await applyYaml(db, y)
  } finally {
    await db.close()
  }
}

export async function applyYaml(db, text, file = 'bench.yaml') {
  const p = await product()
  const parsed = p.parseDefinition(text, file)
  if (!parsed.definition) throw new Error(parsed.problems.map((x) => `${file}:${x.line}:${x.col} ${x.message}`).join('\n'))
  return (await p.applyDefinition(db, { spec: parsed.definition, source: text, checksum: p.definitionChecksum(parsed.source), operator: 'bench' })).definition
}

export function readDef(path) {
  return { text: readFileSync(path, 'utf8'), file: basename(path) }
}
