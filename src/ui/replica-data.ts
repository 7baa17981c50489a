import { liveWorkerCount, replicaLag } from '../db/queries/replica.js'
import type { Queryable } from '../db/types.js'
import type { Saga } from '../engine/types.js'
import type { Database } from '../db/types.js'
import { createMonitorData, type MonitorData } from './data.js'

/** Heartbeats younger than this count as a live worker in the header (as in data.ts). */
const HEADER_LIVENESS_MS = 30_000

/** The console's reads: from the replica when there is one (`readDb`), else from the primary. */
export function consoleData(db: Database, readDb?: Database, opts: { raw?: boolean } = {}): MonitorData {
  const reads = (d: Database) => createMonitorData(d, { displayUrl: d.displayUrl, schema: d.schema, ...opts })
  return readDb && readDb !== db ? withPrimaryReads(reads(readDb), reads(db), db, readDb) : reads(db)
}

/**
 * The console's reads when they go to a replica. The replica answers, except where a
 * lagging copy would mislead: workers are counted on the primary, the header shows the
 * lag, a saga the replica does not have yet is read from the primary, and a saga an
 * operator just acted on is read from the primary until the replica has caught up with
 * that change (else the row stays stale and the next action conflicts).
 */
export function withPrimaryReads(replica: MonitorData, primary: MonitorData, primaryDb: Queryable, replicaDb: Queryable): MonitorData {
  /** Saga id -> the revision the operator's action produced. */
  const pinned = new Map<string, number>()

  const stale = (s: Saga): boolean => {
    const want = pinned.get(s.id)
    if (want === undefined) return false
    if (s.revision >= want) {
      pinned.delete(s.id)
      return false
    }
    return true
  }

  /** Replaces the rows the replica has not caught up on with the primary's. */
  const freshen = async (rows: Saga[]): Promise<Saga[]> => {
    const behind = rows.filter(stale).map((s) => s.id)
    if (behind.length === 0) return rows
    const fresh = new Map((await primary.sagasByIds(behind)).map((s) => [s.id, s]))
    return rows.map((s) => fresh.get(s.id) ?? s)
  }

  return {
    ...replica,
    async header() {
      const [h, workers, lag] = await Promise.all([replica.header(), liveWorkerCount(primaryDb, HEADER_LIVENESS_MS), replicaLag(replicaDb, primaryDb)])
      return { ...h, workers, replica: { lagSeconds: lag.seconds, paused: lag.paused } }
    },
    liveSagas: async (q) => freshen(await replica.liveSagas(q)),
    sagasByIds: async (ids) => freshen(await replica.sagasByIds(ids)),
    async detail(sagaId) {
      const d = await replica.detail(sagaId)
      return d && !stale(d.saga) ? d : primary.detail(sagaId)
    },
    acted(saga) {
      pinned.set(saga.id, saga.revision)
    },
  }
}
