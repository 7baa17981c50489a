// g. Starting sagas from services: POST /v1/sagas on `sagactl serve` at 32 connections
// (autocannon) and SELECT start_saga(...) from pgbench at 32 clients, each against the
// one-row INSERT commit rate of the same server measured in the same run. No worker runs:
// this measures the start (a pending saga, its event, the NOTIFY) and nothing after it.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { commitLimit } from '../lib/commit-limit.js'
import { freshSchema } from '../lib/sagactl.js'
import { cpuMs, exited, log, median, percentile, round, runCli, spawnCli, waitUntil } from '../lib/util.js'
import { fmt } from './throughput.js'

const SCHEMA = 'bench_start'
const CLIENTS = 32
const HTTP_TARGET = 3000
const HTTP_P99_TARGET_MS = 20
const SQL_RATIO_TARGET = 0.5
const DEF = `name: bench-start
timeout: 5m
steps:
  - name: one
    action: { module: ./noop.js, export: step }
`

function pgbenchBin(cluster) {
  for (const p of [`${cluster?.pgbin}/pgbench`, 'pgbench']) {
    if (spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0) return p
  }
  throw new Error('pgbench is not installed')
}

/** start_saga from pgbench, per-transaction latencies from its log. */
function sqlStarts(cluster, url, seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'sagactl-start-'))
  writeFileSync(join(dir, 'start.sql'), `SELECT ${SCHEMA}.start_saga('bench-start', '{"order": 1}');\n`)
  const u = new URL(url)
  const args = ['-n', '-c', String(CLIENTS), '-j', '2', '-T', String(seconds), '-M', 'prepared', '-f', join(dir, 'start.sql'), '-l', '--log-prefix', join(dir, 'tx')]
  const res = spawnSync(pgbenchBin(cluster), [...args, '-h', u.hostname, '-p', u.port || '5432', '-U', u.username || 'postgres', u.pathname.slice(1)], { encoding: 'utf8', cwd: dir })
  const m = res.stdout.match(/tps = ([\d.]+) \(without initial connection time\)/) ?? res.stdout.match(/tps = ([\d.]+)/)
  if (res.status !== 0 || !m) throw new Error(`pgbench failed: ${res.stderr || res.stdout}`)
  const latencies = []
  for (const f of readdirSync(dir).filter((x) => x.startsWith('tx'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const us = Number(line.split(' ')[2])
      if (line && Number.isFinite(us)) latencies.push(us / 1000)
    }
  }
  return { perSec: Number(m[1]), p50: percentile(latencies, 50), p99: percentile(latencies, 99), tool: `pgbench -c ${CLIENTS} -j 2 -T ${seconds} -M prepared` }
}

/** POST /v1/sagas on a `sagactl serve` process, from autocannon in this process. */
async function httpStarts(url, seconds) {
  const db = ['--database-url', url, '--schema', SCHEMA]
  const created = await runCli(['token', 'create', '--name', `bench-${Date.now()}`, '--role', 'start', '--json', ...db])
  if (created.code !== 0) throw new Error(`token create failed: ${created.stderr}`)
  const { token } = JSON.parse(created.stdout)
  const server = spawnCli(['serve', '--port', '0', '--connections', String(CLIENTS), ...db])
  try {
    const base = await waitUntil(() => /API on (http:\/\/\S+)/.exec(server.outputTail)?.[1], { timeoutMs: 30_000, what: 'serve listening' })
    const load = (duration) =>
      autocannon({
        url: `${base}/v1/sagas`,
        method: 'POST',
        connections: CLIENTS,
        duration,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ definition: 'bench-start', input: { order: 1 } }),
      })
    // Warm-up: compiled code, prepared statements, the token cache and the pool's connections.
    await load(2)
    const cpu0 = cpuMs(server.pid)
    const result = await load(seconds)
    const ok = result['2xx']
    // CPU the server spent per start: less at the mercy of what else the machine runs than the rate.
    const serveCpuMsPerStart = ok ? (cpuMs(server.pid) - cpu0) / ok : null
    if (result.non2xx > 0 || result.errors > 0) log(`  http: ${result.non2xx} non-2xx, ${result.errors} errors`)
    return { perSec: ok / (result.duration || seconds), p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors, serveCpuMsPerStart, tool: `autocannon -c ${CLIENTS} -d ${seconds}` }
  } finally {
    server.kill('SIGTERM')
    await exited(server)
  }
}

export default {
  name: 'start',
  title: 'g. Starting sagas from services (HTTP and SQL)',
  async run(ctx) {
    const seconds = ctx.quick ? 5 : 15
    const url = await ctx.cluster.ensureDatabase('sagactl_bench_start')
    const rounds = []
    const load = [loadavg()[0]]
    for (let r = 0; r < ctx.runs; r++) {
      log(`start: round ${r + 1}/${ctx.runs}`)
      await freshSchema(url, SCHEMA, [DEF])
      const limit = await commitLimit({ cluster: ctx.cluster, url, clients: CLIENTS, seconds })
      const sql = sqlStarts(ctx.cluster, url, seconds)
      const http = await httpStarts(url, seconds)
      log(`  commit limit ${fmt(limit.commitsPerSec, 0)}/s; SQL starts ${fmt(sql.perSec, 0)}/s (p50 ${fmt(sql.p50, 2)} ms, p99 ${fmt(sql.p99, 2)} ms); HTTP starts ${fmt(http.perSec, 0)}/s (p50 ${http.p50} ms, p99 ${http.p99} ms, serve CPU ${fmt(http.serveCpuMsPerStart, 2)} ms/start)`)
      rounds.push({ limit: limit.commitsPerSec, sql, http })
    }
    load.push(loadavg()[0])
    const m = (f) => median(rounds.map(f))
    const limit = m((x) => x.limit)
    const sqlRate = m((x) => x.sql.perSec)
    const httpRate = m((x) => x.http.perSec)
    const httpP99 = m((x) => x.http.p99)
    return {
      title: this.title,
      params: { seconds, clients: CLIENTS, runs: ctx.runs, loadAverage: load.map((x) => round(x, 1)), definition: 'one module step, timeout 5m (a deadline is computed on start)', worker: 'none: starts only' },
      figures: { commitLimit: limit, rounds },
      targets: [
        { metric: `POST /v1/sagas starts/s (${CLIENTS} connections)`, value: fmt(httpRate, 0), target: `>= ${HTTP_TARGET}`, met: httpRate >= HTTP_TARGET },
        { metric: 'POST /v1/sagas p99 latency', value: `${fmt(httpP99, 1)} ms`, target: `< ${HTTP_P99_TARGET_MS} ms`, met: httpP99 < HTTP_P99_TARGET_MS },
        { metric: `start_saga starts/s (pgbench, ${CLIENTS} clients) / commit limit`, value: fmt(sqlRate / limit, 2), target: `>= ${SQL_RATIO_TARGET}`, met: sqlRate / limit >= SQL_RATIO_TARGET },
      ],
      tables: [
        {
          head: ['path', 'starts/s', 'x commit limit', 'p50 ms', 'p99 ms', 'server CPU ms/start', 'tool'],
          rows: [
            ['one-row INSERT commits (the limit)', fmt(limit, 0), '1.00', '', '', '', `pgbench -c ${CLIENTS} -M prepared`],
            ['SQL: SELECT start_saga(...)', fmt(sqlRate, 0), fmt(sqlRate / limit, 2), fmt(m((x) => x.sql.p50), 2), fmt(m((x) => x.sql.p99), 2), '', rounds[0].sql.tool],
            ['HTTP: POST /v1/sagas', fmt(httpRate, 0), fmt(httpRate / limit, 2), fmt(m((x) => x.http.p50), 1), fmt(httpP99, 1), fmt(m((x) => x.http.serveCpuMsPerStart), 2), rounds[0].http.tool],
          ],
        },
      ],
      notes: [
        `Each start is one transaction: the saga row, its saga.created event and, unless another start is notifying at that moment, two NOTIFYs (notifying transactions commit one at a time). The HTTP path adds the definition lookup (one read), the bearer-token check (cached 5 s) and JSON in and out; \`sagactl serve\` is one Node process, and autocannon runs in the bench process on the same cores as the server and PostgreSQL: on this loaded 2-core machine every figure here is a floor.`,
        `The machine's 1-minute load average was ${load.map((x) => fmt(x, 1)).join(' before, ')} after this part (other work shares the cores): read the rates as what was left over, and the CPU per start as the steadier figure.`,
        `HTTP latency is autocannon's (whole milliseconds); SQL latency is pgbench's per-transaction log. Round HTTP figures: ${rounds.map((x) => round(x.http.perSec, 0)).join(', ')}/s.`,
      ],
    }
  },
}
