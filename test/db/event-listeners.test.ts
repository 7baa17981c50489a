import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { channelFor } from '../../src/db/types.js'
import { Engine } from '../../src/engine/engine.js'
import { Worker } from '../../src/engine/worker.js'
import type { ChangeNotice } from '../../src/engine/types.js'
import { pgUrl, useTestDatabase } from '../helpers/db.js'
import { applyYaml, FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'

/** What the events channel carried about one saga, besides its start. */
const about = (payloads: string[], id: string) =>
  payloads
    .map((p) => JSON.parse(p) as ChangeNotice)
    .flatMap((n) => n.changes ?? [])
    .filter((c) => c.id === id && c.event !== 'saga.created')

describe.runIf(pgUrl)('transition notices go out only while someone listens, on the real server', () => {
  const t = useTestDatabase('pg')
  let engine: Engine
  let worker: Worker
  let raw: pg.Client
  const heard: string[] = []

  beforeAll(async () => {
    engine = new Engine(t.db)
    await applyYaml(t.db, scriptedDefinition('three', [{ name: 'a' }, { name: 'b' }, { name: 'c' }]))
    // A bare LISTEN, without announcing itself: it sees what is sent without changing it.
    raw = new pg.Client({ connectionString: pgUrl! })
    await raw.connect()
    raw.on('notification', (m) => heard.push(m.payload ?? ''))
    await raw.query(`LISTEN "${channelFor(t.schema)}"`)
    worker = new Worker(t.db, { concurrency: 4, defsDir: FIXTURE_STEPS, leaseMs: 5_000, pollMs: 20 })
    await worker.start()
  })
  afterAll(async () => {
    await worker.stop()
    await raw.end()
  })

  const run = async () => {
    const { saga } = await engine.start('three', { script: {} })
    await waitFor(async () => (await engine.get(saga.id)).status === 'completed')
    // Notifications are delivered after the commit that sent them: give the last one a moment.
    await new Promise((r) => setTimeout(r, 200))
    return saga.id
  }

  it('no one listening: the worker sends no transition notices', async () => {
    const id = await run()
    expect(about(heard, id)).toEqual([])
  })

  it('a console or follower that starts listening gets every transition from then on', async () => {
    const got: string[] = []
    const off = await t.db.listen((p) => got.push(p))
    try {
      const id = await run()
      expect(about(got, id).map((c) => c.event)).toContain('saga.completed')
      expect(about(got, id).at(-1)).toMatchObject({ status: 'completed', event: 'saga.completed' })
    } finally {
      await off()
    }
    // The listener gone, the worker stops notifying within its next check (a second).
    await new Promise((r) => setTimeout(r, 1_500))
    heard.length = 0
    const id = await run()
    expect(about(heard, id)).toEqual([])
  })
})
