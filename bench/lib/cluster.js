// A throwaway PostgreSQL cluster for the benchmarks and the chaos run: its own data
// directory and port, so commit counts are not mixed with other people's tests and the
// server can be restarted (or crashed) at will. Same settings as shared/tools/pg-up.sh.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync, chownSync } from 'node:fs'
import { createServer } from 'node:net'
import pg from 'pg'

const OS_USER = process.env.PGUSER_OS ?? 'postgres'

export function findPgBin() {
  if (process.env.PGBIN) return existsSync(`${process.env.PGBIN}/initdb`) ? process.env.PGBIN : null
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
  for (const v of versions) if (existsSync(`${root}/${v}/bin/initdb`)) return `${root}/${v}/bin`
  return null
}

/** A free loopback port, picked by the kernel. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function asUser() {
  // postgres refuses to run as root: run the server as an unprivileged OS user.
  if (process.getuid?.() !== 0) return []
  const known = spawnSync('id', [OS_USER], { stdio: 'ignore' }).status === 0
  if (!known) execFileSync('useradd', ['--system', '--create-home', '--shell', '/bin/bash', OS_USER])
  return ['runuser', '-u', OS_USER, '--']
}

function run(prefix, bin, args, opts = {}) {
  const argv = [...prefix, bin, ...args]
  return execFileSync(argv[0], argv.slice(1), { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts })
}

/**
 * Starts (creating when needed) a cluster in `dir` on `port`. `profile: 'bench'` is the
 * pg-up.sh configuration with pg_stat_statements; 'small' is a lighter one for chaos.
 */
export async function startCluster({ dir, port, profile = 'bench', fresh = false, extraConf = '' }) {
  const pgbin = findPgBin()
  if (!pgbin) throw new Error('no PostgreSQL server binaries (initdb) found; set PGBIN')
  const prefix = asUser()
  if (fresh && existsSync(dir)) {
    try { run(prefix, `${pgbin}/pg_ctl`, ['-D', dir, '-m', 'immediate', 'stop']) } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
  if (!existsSync(`${dir}/PG_VERSION`)) {
    mkdirSync(dir, { recursive: true })
    if (prefix.length) {
      const uid = Number(execFileSync('id', ['-u', OS_USER], { encoding: 'utf8' }).trim())
      const gid = Number(execFileSync('id', ['-g', OS_USER], { encoding: 'utf8' }).trim())
      chownSync(dir, uid, gid)
    }
    run(prefix, `${pgbin}/initdb`, ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'])
    const big = profile === 'bench'
    appendFileSync(`${dir}/postgresql.conf`, `
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${dir}'
max_connections = 200
shared_buffers = ${big ? '1GB' : '128MB'}
effective_cache_size = 12GB
work_mem = 16MB
maintenance_work_mem = 256MB
wal_buffers = 16MB
max_wal_size = 8GB
min_wal_size = 1GB
checkpoint_completion_target = 0.9
random_page_cost = 1.1
${big ? "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.max = 10000\npg_stat_statements.track = all\ntrack_io_timing = on" : ''}
fsync = on
synchronous_commit = on
full_page_writes = on
logging_collector = off
${extraConf}
`)
    writeFileSync(`${dir}/pg_hba.conf`, 'local all all trust\nhost all all 127.0.0.1/32 trust\n')
  } else {
    const conf = readFileSync(`${dir}/postgresql.conf`, 'utf8')
    const m = conf.match(/^port = (\d+)/m)
    if (m && Number(m[1]) !== port) throw new Error(`cluster in ${dir} is configured for port ${m[1]}, not ${port}`)
  }
  const cluster = new Cluster(dir, port, pgbin, prefix)
  if (!cluster.running()) cluster.start()
  await cluster.waitReady()
  if (profile === 'bench') {
    await cluster.sql('postgres', 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
    // Planning time shows what a statement sent as text (not prepared) costs on every call.
    await cluster.sql('postgres', 'ALTER SYSTEM SET pg_stat_statements.track_planning = on')
    await cluster.sql('postgres', 'SELECT pg_reload_conf()')
  }
  return cluster
}

/** What the benchmarks need of any server: a URL per database, one-off SQL, fresh databases. */
class Server {
  async sql(database, text, params) {
    const c = new pg.Client({ connectionString: this.url(database) })
    await c.connect()
    try {
      return await c.query(text, params)
    } finally {
      await c.end().catch(() => {})
    }
  }

  /** A fresh, empty database (dropped first when it exists). */
  async freshDatabase(name) {
    await this.sql('postgres', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await this.sql('postgres', `CREATE DATABASE "${name}"`)
    await this.sql(name, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements').catch(() => {})
    return this.url(name)
  }

  async ensureDatabase(name) {
    const found = await this.sql('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (found.rowCount === 0) await this.sql('postgres', `CREATE DATABASE "${name}"`)
    return this.url(name)
  }
}

/** A server given by --url: fresh databases on it, no process to account CPU to. */
export class ExistingServer extends Server {
  constructor(url) {
    super()
    this.base = new URL(url)
    this.pgbin = null
  }

  url(database = 'postgres') {
    const u = new URL(this.base)
    u.pathname = `/${database}`
    return u.toString()
  }

  postmasterPid() {
    return null
  }
}

export class Cluster extends Server {
  constructor(dir, port, pgbin, prefix) {
    super()
    this.dir = dir
    this.port = port
    this.pgbin = pgbin
    this.prefix = prefix
  }

  url(database = 'postgres') {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  running() {
    try {
      run(this.prefix, `${this.pgbin}/pg_ctl`, ['-D', this.dir, 'status'])
      return true
    } catch {
      return false
    }
  }

  start() {
    run(this.prefix, `${this.pgbin}/pg_ctl`, ['-D', this.dir, '-l', `${this.dir}/server.log`, '-w', '-t', '60', 'start'])
  }

  /** `immediate` is a crash: no shutdown checkpoint, crash recovery on start. */
  stop(mode = 'fast') {
    if (!this.running()) return
    run(this.prefix, `${this.pgbin}/pg_ctl`, ['-D', this.dir, '-m', mode, '-w', 'stop'])
  }

  async restart(mode = 'immediate', downMs = 0) {
    this.stop(mode)
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs))
    this.start()
    await this.waitReady()
  }

  wipe() {
    this.stop('immediate')
    rmSync(this.dir, { recursive: true, force: true })
  }

  postmasterPid() {
    try {
      return Number(readFileSync(`${this.dir}/postmaster.pid`, 'utf8').split('\n')[0])
    } catch {
      return null
    }
  }

  async waitReady(timeoutMs = 60_000) {
    const end = Date.now() + timeoutMs
    for (;;) {
      try {
        await this.sql('postgres', 'SELECT 1')
        return
      } catch (err) {
        if (Date.now() > end) throw err
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }
}
