#!/usr/bin/env node
// npm run bench [-- --quick] [--only throughput,peer,overhead,cli,compensate,monitor,start,soak | a,b,c,d,e,f,g,h]
//   [--runs n] [--sagas n] [--no-profile] [--url postgres://…] [--pg-dir d] [--pg-port p] [--fresh-pg] [--stop-pg]
// Runs the benchmarks on a throwaway PostgreSQL cluster (bench/lib/cluster.js) unless
// --url names a server, writes bench/results/<part>.json and regenerates BENCHMARKS.md.
import { parseArgs } from 'node:util'
import { ExistingServer, startCluster } from './lib/cluster.js'
import { regenerate, saveResult } from './lib/report.js'
import { log, machine, postgresInfo, requireBuild } from './lib/util.js'
import throughput from './parts/throughput.js'
import peer from './parts/peer.js'
import overhead from './parts/overhead.js'
import cli from './parts/cli.js'
import compensate from './parts/compensate.js'
import monitor from './parts/monitor.js'
import start from './parts/start.js'
import soak from './parts/soak.js'

const PARTS = [throughput, peer, overhead, cli, compensate, monitor, start, soak]
const LETTERS = { a: 'throughput', b: 'peer', c: 'overhead', d: 'cli', e: 'compensate', f: 'monitor', g: 'start', h: 'soak' }

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    sagas: { type: 'string' },
    'no-profile': { type: 'boolean', default: false },
    url: { type: 'string' },
    'pg-dir': { type: 'string', default: '/tmp/sagactl-bench-pg' },
    'pg-port': { type: 'string', default: '55433' },
    'fresh-pg': { type: 'boolean', default: false },
    'stop-pg': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

if (o.help) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--only ${PARTS.map((p) => p.name).join(',')}] [--runs n] [--sagas n] [--no-profile] [--url URL] [--pg-dir DIR] [--pg-port PORT] [--fresh-pg] [--stop-pg]\n`)
  process.exit(0)
}

async function main() {
  requireBuild()
  const wanted = o.only ? o.only.split(',').map((s) => LETTERS[s.trim()] ?? s.trim()) : PARTS.map((p) => p.name)
  const unknown = wanted.filter((w) => !PARTS.some((p) => p.name === w))
  if (unknown.length) throw new Error(`unknown part(s): ${unknown.join(', ')}`)

  const cluster = o.url
    ? new ExistingServer(o.url)
    : await startCluster({ dir: o['pg-dir'], port: Number(o['pg-port']), profile: 'bench', fresh: o['fresh-pg'] })
  log(`postgres: ${cluster.url()}${o.url ? '' : ` (throwaway cluster in ${o['pg-dir']})`}`)
  const env = { machine: machine(), postgres: await postgresInfo(cluster.url()), quick: o.quick }
  const runs = Number(o.runs ?? (o.quick ? 1 : 3))
  const ctx = { cluster, quick: o.quick, runs, opts: { profile: !o['no-profile'], sagas: o.sagas ? Number(o.sagas) : undefined } }

  let failed = 0
  for (const part of PARTS.filter((p) => wanted.includes(p.name))) {
    log(`== ${part.title}`)
    const date = new Date().toISOString()
    try {
      const result = await part.run(ctx)
      saveResult(part.name, { status: result.status ?? 'measured', date, ...env, runs, ...result })
      for (const t of result.targets ?? []) log(`   ${t.metric}: ${t.value} (target ${t.target}) ${t.met === undefined ? '' : t.met === null ? 'pending' : t.met ? 'met' : 'MISSED'}`)
      if (result.status === 'pending') log(`   pending: ${result.reason}`)
    } catch (err) {
      failed++
      log(`   error: ${err.stack ?? err}`)
      saveResult(part.name, { status: 'error', date, ...env, runs, title: part.title, reason: String(err.message ?? err).split('\n')[0] })
    }
  }
  const file = regenerate()
  log(`wrote ${file}`)
  if (!o.url && o['stop-pg']) cluster.stop('fast')
  process.exitCode = failed ? 1 : 0
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`)
  process.exit(1)
})
