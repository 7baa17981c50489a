import { readFileSync } from 'node:fs'
import { v7 as uuidv7 } from 'uuid'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { listAudit } from '../../src/db/audit.js'
import { applyDefinition, getDefinition, listDefinitions } from '../../src/db/definitions.js'
import { definitionChecksum, parseDefinition } from '../../src/engine/definition.js'
import { drivers, useTestDatabase } from '../helpers/db.js'

const EXAMPLE = readFileSync(new URL('../../examples/order-checkout.yaml', import.meta.url), 'utf8')

/** What `def apply` hands to the store for one file. */
function input(text: string, file = 'order-checkout.yaml', operator = 'alice') {
  const parsed = parseDefinition(text, file)
  expect(parsed.problems).toEqual([])
  return { spec: parsed.definition!, source: text, checksum: definitionChecksum(parsed.source), operator, file }
}

/** A small valid definition whose content varies with `n`. */
const tiny = (name: string, n: number) => `name: ${name}\ndescription: variant ${n}\nsteps:\n  - name: only\n    action: { module: ./s.js }\n    timeout: ${n + 1}s\n`

describe.each(drivers)('definitions store (%s)', (kind) => {
  const t = useTestDatabase(kind)

  it('applies a new name as version 1: normalised spec, source as written, audit row', async () => {
    const { definition, created } = await applyDefinition(t.db, input(EXAMPLE))
    expect(created).toBe(true)
    expect(definition).toMatchObject({ name: 'order-checkout', version: 1, createdBy: 'alice', source: EXAMPLE })
    expect(definition.createdAt).toBeInstanceOf(Date)
    expect(definition.spec.timeout).toBe(120_000)
    expect(definition.spec.steps).toHaveLength(6)
    expect(definition.spec.steps[1]).toMatchObject({
      name: 'reserve-inventory',
      timeout: 5_000,
      retry: { maxAttempts: 5, backoff: 'fixed', initialDelay: 100, maxDelay: 2_000, jitter: true },
      compensation: { http: { url: '${env:DEMO_INVENTORY_URL}/reservations/release', method: 'POST', headers: {} } },
    })

    const audit = await listAudit(t.db, { target: 'order-checkout' })
    expect(audit).toHaveLength(1)
    expect(audit[0]).toMatchObject({
      operator: 'alice',
      action: 'def.apply',
      details: { version: 1, checksum: definition.checksum, file: 'order-checkout.yaml' },
    })
  })

  it('the same content reformatted, with other comments, or as JSON is unchanged: no version, no audit row', async () => {
    const reformatted = `# re-indented and re-ordered by a formatter\n${stringify(parse(EXAMPLE), { sortMapEntries: true, indent: 4 })}`
    const asJson = JSON.stringify(parse(EXAMPLE), null, 2)
    for (const [text, file] of [[EXAMPLE, 'a.yaml'], [reformatted, 'b.yaml'], [asJson, 'c.json']] as const) {
      const { definition, created } = await applyDefinition(t.db, input(text, file, 'bob'))
      expect(created, file).toBe(false)
      expect(definition).toMatchObject({ version: 1, createdBy: 'alice', source: EXAMPLE })
    }
    expect(await listAudit(t.db, { target: 'order-checkout' })).toHaveLength(1)
  })

  it('changed content becomes version 2; reads get the latest or the version asked for', async () => {
    const changed = EXAMPLE.replace('timeout: 2m', 'timeout: 3m')
    const { definition, created } = await applyDefinition(t.db, input(changed, 'order-checkout.yaml', 'carol'))
    expect(created).toBe(true)
    expect(definition).toMatchObject({ version: 2, createdBy: 'carol' })
    expect(await listAudit(t.db, { target: 'order-checkout' })).toHaveLength(2)

    const latest = await getDefinition(t.db, 'order-checkout')
    expect(latest).toMatchObject({ version: 2, source: changed, checksum: definition.checksum })
    expect(latest!.spec.timeout).toBe(180_000)
    expect(latest!.createdAt).toBeInstanceOf(Date)
    const first = await getDefinition(t.db, 'order-checkout', 1)
    expect(first).toMatchObject({ version: 1, source: EXAMPLE })
    expect(first!.spec.timeout).toBe(120_000)
    expect(await getDefinition(t.db, 'order-checkout', 3)).toBeNull()
    expect(await getDefinition(t.db, 'no-such-saga')).toBeNull()
  })

  it('lists each name once with its latest version and saga counts from one grouped query', async () => {
    await applyDefinition(t.db, input(tiny('refund', 1), 'refund.yaml'))
    await applyDefinition(t.db, input(tiny('unused', 1), 'unused.yaml'))
    const statuses = ['pending', 'running', 'suspended', 'completed', 'failed', 'compensating', 'compensated']
    for (const [i, status] of statuses.entries()) {
      await t.db.query(`INSERT INTO sagas (id, definition, version, status, input) VALUES ($1, $2, $3, $4, '{}')`, [uuidv7(), 'order-checkout', i < 4 ? 1 : 2, status])
    }
    await t.db.query(`INSERT INTO sagas (id, definition, version, status, input) VALUES ($1, 'refund', 1, 'completed', '{}')`, [uuidv7()])
    // Sagas of a definition that is not registered here do not show up or break the counts.
    await t.db.query(`INSERT INTO sagas (id, definition, version, status, input) VALUES ($1, 'elsewhere', 1, 'running', '{}')`, [uuidv7()])

    const list = await listDefinitions(t.db)
    expect(list.map((d) => d.name)).toEqual(['order-checkout', 'refund', 'unused'])
    expect(list[0]).toMatchObject({
      name: 'order-checkout',
      latestVersion: 2,
      versions: 2,
      steps: 6,
      description: 'Validate the customer, reserve stock, create the order, take payment, award points, notify',
      sagas: { active: 4, total: 7 },
    })
    expect(list[0]!.createdAt).toEqual((await getDefinition(t.db, 'order-checkout'))!.createdAt)
    expect(list[1]).toMatchObject({ latestVersion: 1, versions: 1, steps: 1, description: 'variant 1', sagas: { active: 0, total: 1 } })
    expect(list[2]).toMatchObject({ sagas: { active: 0, total: 0 } })
  })

  it('concurrent applies of one name never collide: distinct contents get distinct versions, equal contents one', async () => {
    const name = 'racing'
    const contents = [1, 2, 3, 4].map((n) => tiny(name, n))
    const results = await Promise.all([...contents, contents[0]!, contents[1]!].map((c) => applyDefinition(t.db, input(c, `${name}.yaml`))))
    expect(results.filter((r) => r.created)).toHaveLength(4)
    const versions = new Set(results.map((r) => r.definition.version))
    expect([...versions].sort()).toEqual([1, 2, 3, 4])
    // Equal contents resolve to the same stored version.
    expect(results[4]!.definition.version).toBe(results[0]!.definition.version)
    expect(results[5]!.definition.version).toBe(results[1]!.definition.version)
    expect(await listAudit(t.db, { target: name })).toHaveLength(4)
  })
})
