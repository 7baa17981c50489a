#!/usr/bin/env node
// npm run chaos [-- --sagas 2000 --workers 3 --kill-every 3s] [--quick] [--rate sagas/s]
//   [--concurrency n] [--url postgres://…] [--no-pg-restart] [--seed n] [--timeout 10m] [--out file.json] [--keep]
// Runs sagas of five http steps through worker processes that are SIGKILLed and
// restarted every few seconds, against a loopback service that fails, flakes and loses
// responses, restarts PostgreSQL once in the middle (on a throwaway cluster of its own),
// then checks the invariants (bench/chaos/invariants.js) and exits 1 if any fails.
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort, startCluster } from './lib/cluster.js'
import { regenerate } from './lib/report.js'
import { product } from './lib/sagactl.js'
import { log, RESULTS, sleep, withClient } from './lib/util.js'
import { Fleet } from './chaos/fleet.js'
import { checkInvariants, formatReport, repetition } from './chaos/invariants.js'
import { startService } from './chaos/service.js'

const { values: o } = parseArgs({
  options: {
    sagas: { type: 'string' },
    workers: { type: 'string', default: '3' },
    'kill-every': { type: 'string', default: '3s' },
    concurrency: { type: 'string', default: '16' },
    rate: { type: 'string' },
    quick: { type: 'boolean', default: false },
    url: { type: 'string' },
    'no-pg-restart': { type: 'boolean', default: false },
    seed: { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'timeout': { type: 'string' },
  },
})

const STEPS = ['validate', 'reserve', 'order', 'charge', 'ship']
const COMPENSABLE = ['reserve', 'order', 'charge', 'ship']
const SCHEMA = 'chaos'
const ms = (text) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text)
  if (!m) throw new Error(`bad duration ${text}`)
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 'ms'])
}

const n = Number(o.sagas ?? (o.quick ? 300 : 2000))
const workerCount = Number(o.workers)
const killEvery = ms(o['kill-every'])
const seed = Number(o.seed ?? Date.now() % 1_000_000)
const deadline = Date.now() + ms(o.timeout ?? (o.quick ? '4m' : '10m'))
const runId = Date.now().toString(36)

/** Deterministic per seed: mulberry32. */
function rng(s) {
  return () => {
    s |= 0
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = rng(seed)

/**
 * What the service does to saga i: a business refusal (409 or 422) on one step for about
 * a quarter; for one in 40, a refusal late enough to need compensation and a compensation
 * that never succeeds, so the saga must suspend with an intervention.
 */
function fateOf(i) {
  const status = random() < 0.5 ? 409 : 422
  if (i % 40 === 7) {
    const at = 2 + Math.floor(random() * (STEPS.length - 2))
    const undoable = COMPENSABLE.filter((s) => STEPS.indexOf(s) < at)
    return { fail: { step: STEPS[at], status }, compFail: undoable[Math.floor(random() * undoable.length)] }
  }
  if (random() >= 0.25) return {}
  return { fail: { step: STEPS[Math.floor(random() * STEPS.length)], status } }
}

function definition(port) {
  const url = (step, phase) => `{ http: { url: "http://127.0.0.1:${port}/${step}/${phase}" } }`
  const lines = [
    'name: chaos-order',
    'description: Five http steps against the chaos service',
    'defaults:',
    '  timeout: 2s',
    '  retry: { maxAttempts: 10, backoff: exponential, initialDelay: 20ms, maxDelay: 400ms, jitter: true }',
    '  compensationRetry: { maxAttempts: 8, backoff: fixed, initialDelay: 40ms, jitter: true }',
    'steps:',
  ]
  for (const s of STEPS) {
    lines.push(`  - name: ${s}`, `    action: ${url(s, 'action')}`)
    if (COMPENSABLE.includes(s)) lines.push(`    compensation: ${url(s, 'compensation')}`)
  }
  return lines.join('\n')
}

async function database() {
  if (o.url) return { url: o.url, cluster: null, why: 'a server given by --url cannot be restarted by this script' }
  try {
    const port = await freePort()
    const cluster = await startCluster({ dir: join(tmpdir(), `sagactl-chaos-${port}`), port, profile: 'small', fresh: true })
    return { url: cluster.url('postgres'), cluster, why: null }
  } catch (err) {
    const url = process.env.SAGACTL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
    return { url, cluster: null, why: `no throwaway cluster (${String(err.message).split('\n')[0]}); using ${url.replace(/:[^:@/]+@/, ':***@')}` }
  }
}

async function main() {
  const p = await product()
  const { url, cluster, why } = await database()
  const restartPg = Boolean(cluster) && !o['no-pg-restart']
  const skipReason = o['no-pg-restart'] ? 'skipped (--no-pg-restart)' : why ? `skipped: ${why}` : null
  const schema = cluster ? SCHEMA : `chaos_${runId}`
  log(`chaos: ${n} sagas, ${workerCount} workers, kill every ${o['kill-every']}, seed ${seed}, postgres ${cluster ? `throwaway cluster on port ${cluster.port}` : url.replace(/:[^:@/]+@/, ':***@')}`)
  if (!restartPg) log(`chaos: PostgreSQL restart ${skipReason}`)

  const service = await startService({ random })
  const dir = mkdtempSync(join(tmpdir(), 'sagactl-chaos-defs-'))
  const db = await p.openDatabase({ url, schema, max: 4 })
  const fleet = new Fleet({ count: workerCount, url, schema, defsDir: dir, concurrency: Number(o.concurrency), random })
  const stats = { pgRestarts: 0, startRetries: 0 }
  try {
    await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await p.migrate(db)
    const yaml = definition(service.port)
    const parsed = p.parseDefinition(yaml, 'chaos.yaml')
    await p.applyDefinition(db, { spec: parsed.definition, source: yaml, checksum: p.definitionChecksum(parsed.source), operator: 'chaos' })

    fleet.start()
    fleet.killEvery(killEvery)
    fleet.passEvery(4_000)

    const keys = Array.from({ length: n }, (_, i) => `chaos-${runId}-${i}`)
    const fates = keys.map((_, i) => fateOf(i))
    const engine = new p.Engine(db)
    const rate = Number(o.rate ?? (o.quick ? 40 : 80))
    let started = 0
    const starter = (async () => {
      for (let i = 0; i < n && !fleet.stopping; i++) {
        // The same key again after a failed start returns the saga if the first one got in.
        while (!fleet.stopping) {
          try {
            await engine.start('chaos-order', { order: i, fate: fates[i] }, { key: keys[i] })
            started++
            break
          } catch {
            stats.startRetries++
            await sleep(200)
          }
        }
        await sleep(1000 / rate)
      }
    })()

    const pgRestart = restartPg
      ? (async () => {
          while (started < n / 2 && Date.now() < deadline) await sleep(100)
          log('chaos: restarting PostgreSQL (immediate stop: crash recovery on start)')
          await cluster.restart('immediate', 1_000)
          stats.pgRestarts++
          log('chaos: PostgreSQL is back')
        })()
      : Promise.resolve()

    await settle({ url, schema, n, started: () => started, fleet, service })
    fleet.stopping = true
    await starter
    await pgRestart
    await fleet.stop()

    const sagas = await withClient(url, schema, async (c) =>
      (await c.query(`SELECT s.id, s.idempotency_key AS key, s.status, s.input,
                             (SELECT count(*)::int FROM interventions i WHERE i.saga_id = s.id AND i.status = 'open') AS open
                      FROM sagas s`)).rows.map((r) => ({ id: r.id, key: r.key, status: r.status, fate: r.input?.fate ?? {}, openInterventions: r.open })),
    )
    const reclaims = await withClient(url, schema, async (c) => (await c.query(`SELECT count(*)::int AS n FROM events WHERE type = 'saga.reclaimed'`)).rows[0].n)
    const invariants = checkInvariants({ sagas, expectedKeys: keys, calls: service.calls, applied: service.applied, steps: STEPS, compensable: COMPENSABLE })
    const byStatus = {}
    for (const s of sagas) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1
    const report = {
      date: new Date().toISOString(),
      seed,
      sagas: n,
      workers: workerCount,
      killEvery: o['kill-every'],
      pgRestart: restartPg ? `done ${stats.pgRestarts} time(s), immediate stop` : skipReason,
      byStatus,
      reclaims,
      ...fleet.stats,
      ...stats,
      calls: repetition(service.calls),
      invariants,
      ok: invariants.every((i) => i.ok),
    }
    process.stdout.write(formatReport(report))
    const out = o.out ?? `${RESULTS}chaos.json`
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
    if (!o.out) regenerate()
    process.exitCode = report.ok ? 0 : 1
    if (!o.keep) await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {})
  } finally {
    fleet.kill()
    await db.close().catch(() => {})
    await service.close()
    rmSync(dir, { recursive: true, force: true })
    if (cluster && !o.keep) cluster.wipe()
  }
}

/** Waits until every saga has been started and has ended (or the time is up), printing progress. */
async function settle({ url, schema, n, started, fleet, service }) {
  let last = 0
  for (;;) {
    await sleep(500)
    let s
    try {
      s = await withClient(url, schema, async (c) => (await c.query(`
        SELECT count(*)::int AS total,
               count(*) FILTER (WHERE status = 'completed')::int AS completed,
               count(*) FILTER (WHERE status = 'compensated')::int AS compensated,
               count(*) FILTER (WHERE status = 'suspended')::int AS suspended,
               count(*) FILTER (WHERE status IN ('pending', 'running', 'compensating')
                                 OR (status = 'suspended' AND NOT EXISTS (SELECT 1 FROM interventions i WHERE i.saga_id = sagas.id AND i.status = 'open')))::int AS active
        FROM sagas`)).rows[0])
    } catch {
      continue // the server is restarting
    }
    if (Date.now() - last > 5_000) {
      last = Date.now()
      log(`chaos: started ${started()}/${n}, completed ${s.completed}, compensated ${s.compensated}, suspended ${s.suspended}, active ${s.active}; kills ${fleet.stats.kills}, calls ${service.calls.length}`)
    }
    if (started() === n && s.total === n && s.active === 0) return
    if (Date.now() > deadline) {
      log('chaos: time is up before every saga ended')
      return
    }
  }
}

main().catch((err) => {
  process.stderr.write(`chaos: ${err.stack ?? err}\n`)
  process.exit(2)
})
