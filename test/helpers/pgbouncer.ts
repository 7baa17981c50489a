import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

const OS_USER = 'postgres'

/** The Debian binary, or null when PgBouncer is not installed (under CI it must be). */
export function findPgbouncer(): string | null {
  for (const bin of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) {
    if (spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0) return bin
  }
  return null
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/** Root runs servers as the postgres OS user: PgBouncer refuses to run as root. */
export function asServerUser(): { prefix: string[]; chown: (path: string) => void } {
  if (process.getuid?.() !== 0) return { prefix: [], chown: () => {} }
  const uid = Number(execFileSync('id', ['-u', OS_USER], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', OS_USER], { encoding: 'utf8' }).trim())
  return { prefix: ['runuser', '-u', OS_USER, '--'], chown: (path) => chownSync(path, uid, gid) }
}

export interface Pgbouncer {
  /** `postgres://…@127.0.0.1:<port>/<database>` through the pooler, with no parameters. */
  url: string
  port: number
  log(): string
  stop(): Promise<void>
}

export interface PgbouncerOptions {
  /** Roles besides the server URL's that may connect. */
  users?: string[]
  /** `ignore_startup_parameters`, the setting people add to get past the `options` refusal. */
  ignoreStartupParameters?: string
}

/**
 * Starts PgBouncer with a config of its own on a free port, in front of `serverUrl`. The
 * config is the stock one plus what a test needs (address, port, files, pool mode,
 * trust auth): unless asked, no ignore_startup_parameters and no max_prepared_statements.
 */
export async function startPgbouncer(serverUrl: string, mode: 'session' | 'transaction', opts: PgbouncerOptions = {}): Promise<Pgbouncer> {
  const bin = findPgbouncer()
  if (!bin) throw new Error('pgbouncer is not installed')
  const server = new URL(serverUrl)
  const database = server.pathname.slice(1) || 'postgres'
  const user = decodeURIComponent(server.username || 'postgres')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), `sagactl-pgbouncer-${mode}-`))
  const { prefix, chown } = asServerUser()
  chown(dir)
  writeFileSync(join(dir, 'userlist.txt'), [user, ...(opts.users ?? [])].map((u) => `"${u}" ""\n`).join(''))
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    `[databases]
${database} = host=${server.hostname} port=${server.port || 5432} dbname=${database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = ${mode}
default_pool_size = 10
max_client_conn = 200
logfile = ${join(dir, 'pgbouncer.log')}
pidfile = ${join(dir, 'pgbouncer.pid')}
${opts.ignoreStartupParameters ? `ignore_startup_parameters = ${opts.ignoreStartupParameters}\n` : ''}`,
  )
  const argv = [...prefix, bin, join(dir, 'pgbouncer.ini')]
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { cwd: '/', stdio: 'ignore' })
  const url = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`
  const log = () => {
    try {
      return readFileSync(join(dir, 'pgbouncer.log'), 'utf8')
    } catch {
      return ''
    }
  }
  const deadline = Date.now() + 15_000
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
      await client.end()
      break
    } catch (err) {
      await client.end().catch(() => {})
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`pgbouncer did not start: ${(err as Error).message}\n${log()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return {
    url,
    port,
    log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        // SIGTERM is PgBouncer's immediate shutdown (SIGINT waits for every client). Sent to
        // PgBouncer itself by its pid file: runuser in between need not pass it on.
        try {
          process.kill(Number(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8').trim()), 'SIGTERM')
        } catch {
          child.kill('SIGTERM')
        }
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
