import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { countSagas, getSaga, listSagas } from '../../src/db/queries/sagas.js'
import { Engine } from '../../src/engine/engine.js'
import { MAX_INPUT_BYTES } from '../../src/engine/limits.js'
import { UsageError } from '../../src/errors.js'
import { runCli } from '../helpers/cli.js'
import { drivers, freshPgSchema, pgUrl, useTestDatabase } from '../helpers/db.js'
import { applyYaml, scriptedDefinition } from '../helpers/engine.js'

const big = () => ({ blob: 'x'.repeat(MAX_INPUT_BYTES) })

describe.each(drivers)('saga inputs on %s', (kind) => {
  const t = useTestDatabase(kind)

  it('an input over the limit is refused before anything is written', async () => {
    await applyYaml(t.db, scriptedDefinition('limited', [{ name: 'a' }]))
    const engine = new Engine(t.db)
    const err = await engine.start('limited', big()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UsageError)
    expect((err as Error).message).toBe('input is larger than 1 MiB: nothing was started')
    expect(await countSagas(t.db, {})).toBe(0)
    const events = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events`)
    expect(events.rows[0]!.n).toBe(0)
    // just under the limit is fine
    const { saga } = await engine.start('limited', { blob: 'x'.repeat(MAX_INPUT_BYTES - 100) })
    expect(saga.status).toBe('pending')
  })

  it('an input PostgreSQL cannot store (a NUL, or nested past the depth limit) is refused by the engine itself', async () => {
    const engine = new Engine(t.db)
    let deep: unknown = 1
    for (let i = 0; i < 200; i++) deep = [deep]
    for (const [input, why] of [
      [{ note: 'a\u0000b' }, 'contains a NUL character'],
      [{ ['k\u0000']: 1 }, 'in a key'],
      [deep, 'nested deeper than 100 levels'],
    ] as const) {
      const err = await engine.start('limited', input).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UsageError)
      expect((err as Error).message).toContain(why)
    }
    expect(await countSagas(t.db, { definition: 'limited' })).toBe(1)
  })

  it('saga list does not load inputs; saga show does', async () => {
    const engine = new Engine(t.db)
    const { saga } = await engine.start('limited', { marker: 'y'.repeat(5_000) })
    const page = await listSagas(t.db, { definition: 'limited' }, { limit: 10 })
    expect(page.items.map((s) => s.id)).toContain(saga.id)
    expect(JSON.stringify(page)).not.toContain('yyyy')
    expect(((await getSaga(t.db, saga.id))?.input as { marker: string }).marker).toHaveLength(5_000)
  })
})

describe.runIf(pgUrl)('saga start --input over the limit', () => {
  it('exits 2 with the error as JSON and starts nothing', async () => {
    const s = await freshPgSchema()
    try {
      const db = ['--database-url', s.url, '--schema', s.schema]
      const dir = mkdtempSync(join(tmpdir(), 'sagactl-input-'))
      writeFileSync(join(dir, 'def.yaml'), scriptedDefinition('limited', [{ name: 'a' }]))
      writeFileSync(join(dir, 'big.json'), JSON.stringify(big()))
      expect((await runCli(['db', 'migrate', ...db])).code).toBe(0)
      expect((await runCli(['def', 'apply', join(dir, 'def.yaml'), ...db])).code).toBe(0)
      const res = await runCli(['saga', 'start', 'limited', '--input', `@${join(dir, 'big.json')}`, '--json', ...db])
      expect(res.code).toBe(2)
      expect(JSON.parse(res.stdout)).toMatchObject({ error: { code: 'usage', message: 'input is larger than 1 MiB: nothing was started' } })
      const list = await runCli(['saga', 'list', '--json', ...db])
      expect(JSON.parse(list.stdout)).toEqual({ items: [], next: null })
    } finally {
      await s.drop()
    }
  })
})
