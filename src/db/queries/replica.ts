import type { Queryable } from '../types.js'

export interface ReplicaLag {
  /** False when the read URL is not a standby at all (then it cannot lag). */
  standby: boolean
  /** WAL the replica has not replayed yet, against the primary's current position. */
  bytesBehind: number
  /**
   * How old the replica's view is: since the last transaction it replayed, when WAL is
   * waiting to be replayed; 0 when it has replayed everything the primary wrote.
   */
  seconds: number
  /** Replay paused by pg_wal_replay_pause(): the lag only grows until someone resumes it. */
  paused: boolean
}

/** Reads the primary's WAL position, then how far the replica has replayed: two cheap calls. */
export async function replicaLag(replica: Queryable, primary: Queryable): Promise<ReplicaLag> {
  const head = await primary.query<{ lsn: string | null }>(`SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn`)
  const lsn = head.rows[0]?.lsn ?? null
  const res = await replica.query<{ standby: boolean; behind: number | null; age: number | null; paused: boolean | null }>(
    `SELECT pg_is_in_recovery() AS standby,
       CASE WHEN pg_is_in_recovery() AND $1::text IS NOT NULL
         THEN greatest(pg_wal_lsn_diff($1::text::pg_lsn, pg_last_wal_replay_lsn()), 0)::float8 END AS behind,
       CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS age,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused`,
    [lsn],
  )
  const r = res.rows[0]!
  if (!r.standby) return { standby: false, bytesBehind: 0, seconds: 0, paused: false }
  const bytesBehind = Number(r.behind ?? 0)
  return { standby: true, bytesBehind, seconds: bytesBehind > 0 ? Math.max(0, Number(r.age ?? 0)) : 0, paused: r.paused === true }
}

/** Workers are counted where they write their heartbeats: on the primary, never through a lagging copy. */
export async function liveWorkerCount(primary: Queryable, livenessMs: number): Promise<number> {
  const res = await primary.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM {{schema}}.workers WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => $1::float8 / 1000)`,
    [livenessMs],
  )
  return res.rows[0]?.n ?? 0
}
