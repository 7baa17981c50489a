import type { Queryable } from './types.js'

/**
 * Retention: deletes finished sagas (with their steps, events and interventions) that
 * ended before `before`, a batch per transaction so a large backlog never holds long
 * locks. The audit log is kept: it is the record of what operators did.
 */
export async function pruneFinished(q: Queryable, before: Date, opts: { batch?: number; dryRun?: boolean } = {}): Promise<number> {
  if (opts.dryRun) {
    const res = await q.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM {{schema}}.sagas WHERE finished_at < $1 AND status IN ('completed', 'compensated', 'failed')`,
      [before],
    )
    return res.rows[0]!.n
  }
  let total = 0
  for (;;) {
    const res = await q.query<{ id: string }>(
      `WITH victims AS (
         SELECT id FROM {{schema}}.sagas
         WHERE finished_at < $1 AND status IN ('completed', 'compensated', 'failed')
         ORDER BY finished_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED
       ), s AS (DELETE FROM {{schema}}.steps WHERE saga_id IN (SELECT id FROM victims)),
       e AS (DELETE FROM {{schema}}.events WHERE saga_id IN (SELECT id FROM victims)),
       i AS (DELETE FROM {{schema}}.interventions WHERE saga_id IN (SELECT id FROM victims))
       DELETE FROM {{schema}}.sagas WHERE id IN (SELECT id FROM victims) RETURNING id`,
      [before, opts.batch ?? 1000],
    )
    total += res.rowCount
    if (res.rowCount === 0) return total
  }
}
