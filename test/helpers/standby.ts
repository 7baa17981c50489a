import { execFileSync } from 'node:child_process'
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
// The benchmarks' throwaway cluster: its own data directory and port, run as the postgres OS user.
import { Cluster, findPgBin, startCluster } from '../../bench/lib/cluster.js'
import { asServerUser, freePort } from './pgbouncer.js'

export interface PrimaryAndStandby {
  primary: Cluster
  standby: Cluster
  /** `postgres://…/<db>` on each. */
  primaryUrl: string
  standbyUrl: string
  stop(): Promise<void>
}

/** A server build is needed to make clusters: null when there is none (then the suite is skipped). */
export const canMakeClusters = findPgBin() !== null

/**
 * A primary of the test's own and a streaming hot standby made from it with
 * `pg_basebackup -R`, each on a free port. `pg_wal_replay_pause()` on the standby makes lag.
 */
export async function startPrimaryAndStandby(database = 'sagactl'): Promise<PrimaryAndStandby> {
  const pgbin = findPgBin()
  if (!pgbin) throw new Error('no PostgreSQL server binaries found')
  const root = mkdtempSync(join(tmpdir(), 'sagactl-standby-'))
  const { prefix, chown } = asServerUser()
  chown(root)
  const primaryDir = join(root, 'primary')
  const primary = (await startCluster({ dir: primaryDir, port: await freePort(), profile: 'small', fresh: true })) as Cluster
  try {
    return await startStandby(primary, root, database, pgbin, prefix, chown)
  } catch (err) {
    // A half-made pair must not leave a server running.
    primary.stop('immediate')
    rmSync(root, { recursive: true, force: true })
    throw err
  }
}

async function startStandby(primary: Cluster, root: string, database: string, pgbin: string, prefix: string[], chown: (path: string) => void): Promise<PrimaryAndStandby> {
  const primaryDir = primary.dir
  const standbyDir = join(root, 'standby')
  appendFileSync(join(primaryDir, 'pg_hba.conf'), 'host replication all 127.0.0.1/32 trust\n')
  await primary.sql('postgres', 'SELECT pg_reload_conf()')
  await primary.sql('postgres', `CREATE DATABASE "${database}"`)

  // PostgreSQL refuses a data directory others can read.
  mkdirSync(standbyDir, { mode: 0o700 })
  chown(standbyDir)
  // A fast checkpoint: the default spread one takes most of checkpoint_timeout (a minute and a half here).
  const argv = [...prefix, `${pgbin}/pg_basebackup`, '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', standbyDir, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync']
  execFileSync(argv[0]!, argv.slice(1), { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] })
  const standbyPort = await freePort()
  // Later lines win: the copied configuration is the primary's.
  appendFileSync(join(standbyDir, 'postgresql.conf'), `\nport = ${standbyPort}\nunix_socket_directories = '${standbyDir}'\nhot_standby = on\n`)
  const standby = new Cluster(standbyDir, standbyPort, pgbin, prefix)
  try {
    standby.start()
    await standby.waitReady()
  } catch (err) {
    standby.stop('immediate')
    throw err
  }
  return {
    primary,
    standby,
    primaryUrl: primary.url(database),
    standbyUrl: standby.url(database),
    stop: async () => {
      for (const c of [standby, primary]) {
        try {
          c.stop('immediate')
        } catch {
          // already down
        }
      }
      rmSync(root, { recursive: true, force: true })
    },
  }
}

/** Waits until the standby has replayed everything the primary has written so far. */
export async function caughtUp(pair: PrimaryAndStandby, timeoutMs = 30_000): Promise<void> {
  const { rows } = await pair.primary.sql('postgres', 'SELECT pg_current_wal_lsn()::text AS lsn')
  const lsn = rows[0].lsn as string
  const end = Date.now() + timeoutMs
  for (;;) {
    const r = await pair.standby.sql('postgres', 'SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::pg_lsn) >= 0 AS ok', [lsn])
    if (r.rows[0].ok) return
    if (Date.now() > end) throw new Error('the standby did not catch up')
    await new Promise((r) => setTimeout(r, 50))
  }
}
