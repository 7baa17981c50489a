import type { SagaStatus } from '../../engine/types.js'
import type { Queryable } from '../types.js'

export type WorkerState = 'live' | 'silent' | 'stopped'

export interface InFlightSaga {
  id: string
  definition: string
  version: number
  status: SagaStatus
  currentStep: string | null
  /** When the worker's lease on it ends (renewed by its heartbeat); past means the lease expired and any worker may take it over. */
  leaseUntil: Date | null
}

export interface WorkerItem {
  id: string
  host: string
  pid: number
  concurrency: number
  version: string | null
  /** live: heartbeat younger than the liveness limit; silent: not stopped but not heard from (killed, hung, cut off); stopped: shut down cleanly. */
  state: WorkerState
  startedAt: Date
  heartbeatAt: Date
  stoppedAt: Date | null
  /** Active sagas whose lease this worker holds, and the first `perWorker` of them, oldest first. */
  inFlight: number
  sagas: InFlightSaga[]
}

export interface WorkerListOptions {
  livenessMs: number
  /** Stopped or silent workers are listed when heard from within this. */
  recentMs: number
  /** How many in-flight sagas to name per worker [default: 20]. */
  perWorker?: number
}

/**
 * Workers live or heard from recently, live first, each with the active sagas it holds a
 * lease on. The sagas come from one grouped read of the active sagas (a small set the
 * sagas_due partial index covers), never a scan per worker.
 */
export async function listWorkers(q: Queryable, o: WorkerListOptions): Promise<WorkerItem[]> {
  const per = o.perWorker ?? 20
  const res = await q.query<Record<string, unknown>>(
    `WITH w AS (
       SELECT id, host, pid, concurrency, sagactl_version, started_at, heartbeat_at, stopped_at,
              CASE WHEN stopped_at IS NOT NULL THEN 'stopped'
                   WHEN heartbeat_at > now() - $1::float8 * interval '1 millisecond' THEN 'live' ELSE 'silent' END AS state
       FROM {{schema}}.workers
       WHERE (stopped_at IS NULL AND heartbeat_at > now() - $1::float8 * interval '1 millisecond')
          OR coalesce(stopped_at, heartbeat_at) > now() - $2::float8 * interval '1 millisecond'
       ORDER BY heartbeat_at DESC LIMIT 1000
     ), f AS (
       SELECT lease_owner, count(*)::int AS n,
              (array_agg(json_build_object('id', id, 'definition', definition, 'version', version, 'status', status, 'currentStep', step_name, 'leaseUntil', due_at) ORDER BY id))[1:$3] AS sagas
       FROM {{schema}}.sagas
       WHERE status IN ('pending', 'running', 'compensating') AND lease_owner IN (SELECT id FROM w)
       GROUP BY lease_owner
     )
     SELECT w.*, coalesce(f.n, 0) AS n, coalesce(f.sagas, '{}') AS sagas
     FROM w LEFT JOIN f ON f.lease_owner = w.id
     ORDER BY w.state = 'live' DESC, w.state = 'silent' DESC, w.heartbeat_at DESC`,
    [o.livenessMs, o.recentMs, per],
  )
  return res.rows.map((r) => ({
    id: r.id as string,
    host: r.host as string,
    pid: Number(r.pid),
    concurrency: Number(r.concurrency),
    version: (r.sagactl_version as string | null) ?? null,
    state: r.state as WorkerState,
    startedAt: new Date(r.started_at as string),
    heartbeatAt: new Date(r.heartbeat_at as string),
    stoppedAt: r.stopped_at ? new Date(r.stopped_at as string) : null,
    inFlight: Number(r.n),
    sagas: (r.sagas as Array<Record<string, unknown>>).map((s) => {
      const x = typeof s === 'string' ? (JSON.parse(s) as Record<string, unknown>) : s
      return {
        id: x.id as string,
        definition: x.definition as string,
        version: Number(x.version),
        status: x.status as SagaStatus,
        currentStep: (x.currentStep as string | null) ?? null,
        leaseUntil: x.leaseUntil ? new Date(x.leaseUntil as string) : null,
      }
    }),
  }))
}
