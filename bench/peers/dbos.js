#!/usr/bin/env node
// The peer: the benchmark's 3-step no-op workflow on DBOS Transact, durable in Postgres.
// node bench/peers/dbos.js --url postgres://…/db --workflows 2000 --concurrency 8
// Prints one JSON document: workflows/s, latency percentiles, and the durable count.
import { parseArgs } from 'node:util'
import { DBOS } from '@dbos-inc/dbos-sdk'
import pg from 'pg'

const { values: o } = parseArgs({
  options: {
    url: { type: 'string' },
    workflows: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '50' },
  },
})
const total = Number(o.workflows)
const callers = Number(o.concurrency)

const noop = async () => null
async function threeSteps(i) {
  await DBOS.runStep(noop, { name: 'first' })
  await DBOS.runStep(noop, { name: 'second' })
  await DBOS.runStep(noop, { name: 'third' })
  return i
}
const workflow = DBOS.registerWorkflow(threeSteps, { name: 'threeSteps' })

DBOS.setConfig({ name: 'sagactl-bench-peer', systemDatabaseUrl: o.url, logLevel: 'error', systemDatabasePoolSize: Math.max(10, callers + 4) })
await DBOS.launch()

async function drive(n, record) {
  let next = 0
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < n) {
        const i = next++
        const t = performance.now()
        await workflow(i)
        record?.(performance.now() - t)
      }
    }),
  )
}

await drive(Number(o.warmup))
const latencies = []
const t0 = performance.now()
const cpu0 = process.cpuUsage()
await drive(total, (ms) => latencies.push(ms))
const wallMs = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
await DBOS.shutdown()

const c = new pg.Client({ connectionString: o.url })
await c.connect()
const durable = await c.query(`SELECT count(*)::int AS n FROM dbos.workflow_status WHERE status = 'SUCCESS'`)
await c.end()

latencies.sort((a, b) => a - b)
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]
process.stdout.write(
  `${JSON.stringify({
    workflows: total,
    concurrency: callers,
    wallMs,
    workflowsPerSec: (total * 1000) / wallMs,
    p50Ms: pct(50),
    p99Ms: pct(99),
    nodeCpuMsPerWorkflow: (cpu.user + cpu.system) / 1000 / total,
    durableSucceeded: durable.rows[0].n,
    expectedSucceeded: total + Number(o.warmup),
  })}\n`,
)
process.exit(0)
