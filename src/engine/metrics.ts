import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { openInterventionCount, sagaCounts, workerHeartbeats } from '../db/queries/health.js'
import { replicaLag } from '../db/queries/replica.js'
import { journalSince, lastEventId, summariseJournal } from '../db/queries/stats.js'
import type { Queryable } from '../db/types.js'
import { listParticipants } from './participants/controls.js'
import { SAGA_STATUSES } from './types.js'

const PARTICIPANT_STATES = ['ok', 'paused', 'open', 'half-open', 'limited'] as const

export interface MetricsOptions {
  /** Terminal sagas are counted when they finished this recently (default 24 h). */
  finishedWithinMs?: number
  /** Heartbeat younger than this = live worker (default 30 s). */
  workerLivenessMs?: number
  /** Journal rows read per scrape at most (default 10 000); a backlog drains over several scrapes. */
  batch?: number
  /**
   * Events younger than this wait for the next scrape (default 5 s): an event id is taken
   * at insert but visible at commit, so a fresh id may still have an uncommitted neighbour.
   */
  settleMs?: number
  /**
   * Set when `db` is a replica: worker heartbeats are read here (through a lagging copy
   * a live worker looks dead), and sagactl_replica_lag_seconds is exported.
   */
  primary?: Queryable
}

export interface SagaMetrics {
  /** Its own registry, never prom-client's global one: a worker can merge it into its own. */
  readonly registry: Registry
  /** Reads the database into the metrics; `registry.metrics()` calls it, concurrent callers share one read. */
  refresh(): Promise<void>
  /** The exposition text, freshly read. */
  render(): Promise<string>
}

/** How often the metrics summarise the journal's index (see summariseJournal). */
const SUMMARISE_EVERY_MS = 60_000

const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

const COMPENSATION_OUTCOME: Record<string, string> = {
  'saga.compensating': 'started',
  'saga.compensated': 'compensated',
  'saga.suspended': 'suspended',
  'saga.failed': 'failed',
}

/**
 * Gauges are read from current state at each scrape; the histogram and counters are fed
 * incrementally from the event journal, from where it ended when the metrics were
 * created (Prometheus counters start at zero with their process; rate() expects that).
 */
export function createSagaMetrics(db: Queryable, opts: MetricsOptions = {}): SagaMetrics {
  const finishedWithinMs = opts.finishedWithinMs ?? 24 * 3_600_000
  const livenessMs = opts.workerLivenessMs ?? 30_000
  const batch = opts.batch ?? 10_000
  const settleMs = opts.settleMs ?? 5_000
  const registry = new Registry()
  let inflight: Promise<void> | undefined
  const collect = () => refresh()

  const sagas = new Gauge({
    name: 'sagactl_sagas',
    help: `Sagas by status and definition: pending, running, compensating and suspended all of them; completed, compensated and failed only those finished in the last ${Math.round(finishedWithinMs / 3_600_000)}h.`,
    labelNames: ['status', 'definition'] as const,
    registers: [registry],
    collect,
  })
  const stepDuration = new Histogram({
    name: 'sagactl_step_duration_seconds',
    help: 'Duration of each step call (one attempt of an action or a compensation).',
    labelNames: ['definition', 'step', 'phase'] as const,
    buckets: STEP_BUCKETS,
    registers: [registry],
    collect,
  })
  const retries = new Counter({
    name: 'sagactl_step_retries_total',
    help: 'Failed step calls that were scheduled to be tried again.',
    labelNames: ['definition', 'step', 'phase'] as const,
    registers: [registry],
    collect,
  })
  const compensations = new Counter({
    name: 'sagactl_compensations_total',
    help: 'Compensations by outcome: started, compensated (rolled back cleanly), suspended or failed.',
    labelNames: ['definition', 'outcome'] as const,
    registers: [registry],
    collect,
  })
  const openInterventions = new Gauge({
    name: 'sagactl_open_interventions',
    help: 'Interventions waiting for an operator.',
    registers: [registry],
    collect,
  })
  const liveWorkers = new Gauge({
    name: 'sagactl_live_workers',
    help: `Workers not stopped whose heartbeat is younger than ${livenessMs / 1000}s.`,
    registers: [registry],
    collect,
  })
  const heartbeatAge = new Gauge({
    name: 'sagactl_worker_heartbeat_age_seconds',
    help: 'Seconds since each running worker last reported (a crashed worker keeps growing for a day).',
    labelNames: ['worker'] as const,
    registers: [registry],
    collect,
  })

  const lagSeconds = opts.primary
    ? new Gauge({
        name: 'sagactl_replica_lag_seconds',
        help: 'How far behind the primary the replica these metrics are read from is (0 when it has replayed everything).',
        registers: [registry],
        collect,
      })
    : undefined
  const participantState = new Gauge({
    name: 'sagactl_participant_state',
    help: 'One series per participant and state, 1 for its current state: ok, paused, open, half-open (circuit breaker) or limited.',
    labelNames: ['participant', 'state'] as const,
    registers: [registry],
    collect,
  })
  const participantWaiting = new Gauge({
    name: 'sagactl_participant_waiting_sagas',
    help: 'Sagas held back for a participant (paused, circuit open, or at a limit), using no attempts.',
    labelNames: ['participant'] as const,
    registers: [registry],
    collect,
  })
  const participantInFlight = new Gauge({
    name: 'sagactl_participant_in_flight',
    help: 'Calls in flight to a participant, by the workers\' latest reports.',
    labelNames: ['participant'] as const,
    registers: [registry],
    collect,
  })

  let lastId: number | undefined
  let summarisedAt = 0

  async function readJournal(): Promise<void> {
    if (Date.now() - summarisedAt >= SUMMARISE_EVERY_MS) {
      summarisedAt = Date.now()
      await summariseJournal(opts.primary ?? db)
    }
    if (lastId === undefined) {
      lastId = await lastEventId(db)
      return
    }
    const rows = await journalSince(db, lastId, { limit: batch, settleMs })
    for (const e of rows) {
      if (e.fresh) break
      lastId = e.id
      const step = { definition: e.definition, step: e.step ?? '', phase: e.phase ?? '' }
      if (e.seconds !== null && e.seconds >= 0) stepDuration.observe(step, e.seconds)
      if (e.retry) retries.inc(step)
      const outcome = COMPENSATION_OUTCOME[e.type]
      if (outcome && (outcome === 'started' || outcome === 'compensated' || e.fromCompensation)) {
        compensations.inc({ definition: e.definition, outcome })
      }
    }
  }

  async function readState(): Promise<void> {
    const { counts, definitions } = await sagaCounts(db, finishedWithinMs)
    sagas.reset()
    // Every known definition gets every status, so a series drops to 0 instead of vanishing.
    for (const definition of definitions) for (const status of SAGA_STATUSES) sagas.set({ status, definition }, 0)
    for (const c of counts) sagas.set({ status: c.status, definition: c.definition }, c.count)
    openInterventions.set(await openInterventionCount(db))
    const workers = await workerHeartbeats(opts.primary ?? db, livenessMs)
    if (opts.primary && lagSeconds) lagSeconds.set((await replicaLag(db, opts.primary)).seconds)
    heartbeatAge.reset()
    for (const w of workers) heartbeatAge.set({ worker: w.id }, w.ageSeconds)
    liveWorkers.set(workers.filter((w) => w.live).length)
    const participants = await listParticipants(db)
    participantState.reset()
    participantWaiting.reset()
    participantInFlight.reset()
    for (const p of participants) {
      for (const state of PARTICIPANT_STATES) participantState.set({ participant: p.name, state }, p.state === state ? 1 : 0)
      participantWaiting.set({ participant: p.name }, p.sagasWaiting)
      participantInFlight.set({ participant: p.name }, p.inFlight)
    }
  }

  function refresh(): Promise<void> {
    inflight ??= (async () => {
      try {
        await readState()
        await readJournal()
      } finally {
        inflight = undefined
      }
    })()
    return inflight
  }

  return {
    registry,
    refresh,
    render: () => registry.metrics(),
  }
}

export interface MetricsServer {
  readonly server: Server
  readonly port: number
  readonly url: string
  close(): Promise<void>
}

/** Serves `/metrics` (and `/healthz`) over node:http; port 0 picks a free port. */
export async function serveMetrics(metrics: SagaMetrics, opts: { port: number; host: string }): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/metrics') {
      metrics.render().then(
        (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        (err: unknown) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`cannot read the database: ${err instanceof Error ? err.message : String(err)}\n`),
      )
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><body><h1>sagactl</h1><p>Prometheus metrics: <a href="/metrics">/metrics</a></p></body></html>\n')
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host
  return {
    server,
    port,
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        // A scraper's keep-alive connection must not hold the shutdown open.
        server.closeAllConnections()
      }),
  }
}
