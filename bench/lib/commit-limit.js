// What the server can commit: one-row INSERT transactions per second from 32 clients,
// with pgbench when it is installed, else a loop of node-postgres clients.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { withClient } from './util.js'

function pgbenchPath(cluster) {
  for (const p of [`${cluster?.pgbin}/pgbench`, 'pgbench']) {
    if (spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0) return p
  }
  return null
}

export async function commitLimit({ cluster, url, clients = 32, seconds = 10 }) {
  await withClient(url, null, async (c) => {
    await c.query('DROP TABLE IF EXISTS commit_probe')
    await c.query('CREATE TABLE commit_probe (v int)')
  })
  const bin = pgbenchPath(cluster)
  if (bin) {
    const dir = mkdtempSync(join(tmpdir(), 'sagactl-pgbench-'))
    writeFileSync(join(dir, 'insert.sql'), 'INSERT INTO commit_probe (v) VALUES (1);\n')
    const u = new URL(url)
    const res = spawnSync(
      bin,
      ['-n', '-c', String(clients), '-j', '2', '-T', String(seconds), '-f', join(dir, 'insert.sql'), '-M', 'prepared', '-h', u.hostname, '-p', u.port || '5432', '-U', u.username || 'postgres', u.pathname.slice(1)],
      { encoding: 'utf8' },
    )
    const m = res.stdout.match(/tps = ([\d.]+) \(without initial connection time\)/) ?? res.stdout.match(/tps = ([\d.]+)/)
    if (res.status !== 0 || !m) throw new Error(`pgbench failed: ${res.stderr || res.stdout}`)
    return { commitsPerSec: Number(m[1]), tool: `pgbench -n -c ${clients} -j 2 -T ${seconds} -M prepared` }
  }
  const pool = Array.from({ length: clients }, () => new pg.Client({ connectionString: url }))
  await Promise.all(pool.map((c) => c.connect()))
  let done = 0
  const end = Date.now() + seconds * 1000
  const t0 = performance.now()
  await Promise.all(
    pool.map(async (c) => {
      while (Date.now() < end) {
        await c.query({ name: 'probe', text: 'INSERT INTO commit_probe (v) VALUES (1)' })
        done++
      }
    }),
  )
  const secs = (performance.now() - t0) / 1000
  await Promise.all(pool.map((c) => c.end()))
  return { commitsPerSec: done / secs, tool: `node-postgres loop, ${clients} clients, ${seconds} s (pgbench not installed)` }
}
