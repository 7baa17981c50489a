import { ConflictError } from '../errors.js'
import type { Saga, StepRecord } from '../engine/types.js'
import type { Transition } from '../engine/transition.js'
import { SAGA_COLUMNS, STEP_COLUMNS, toSaga, toStep } from './rows.js'
import { channelFor, workChannelFor, type Database, type Queryable } from './types.js'

/**
 * The engine's hot path: creating sagas, claiming them, and writing transitions.
 * A transition is one saga-row update, its step rows, its events and (at most) one
 * intervention change, all in ONE statement: one round trip and one commit, for any
 * number of sagas at once (the writer batches whatever is ready).
 */

const TRANSITION_SQL = `
WITH x AS (
  SELECT * FROM json_to_recordset($1::json) AS x(
    id uuid, expected_revision int, status text, step_index int, step_name text, due text, due_at timestamptz,
    release boolean, set_plan boolean, comp_plan int[], last_error text, set_reason boolean, reason text, finished boolean, last_event text,
    waiting_for text)
), su AS (
  UPDATE {{schema}}.sagas s SET
    status = x.status,
    step_index = x.step_index,
    step_name = x.step_name,
    revision = s.revision + 1,
    due_at = CASE x.due WHEN 'keep' THEN s.due_at WHEN 'now' THEN now() WHEN 'at' THEN x.due_at ELSE NULL END,
    lease_owner = CASE WHEN x.release THEN NULL ELSE s.lease_owner END,
    comp_plan = CASE WHEN x.set_plan THEN x.comp_plan ELSE s.comp_plan END,
    last_error = x.last_error,
    reason = CASE WHEN x.set_reason THEN x.reason ELSE s.reason END,
    updated_at = now(),
    finished_at = CASE WHEN x.finished THEN now() ELSE s.finished_at END,
    waiting_for = x.waiting_for
  FROM x
  WHERE s.id = x.id
    AND CASE WHEN x.expected_revision IS NULL THEN s.lease_owner = $2 ELSE s.revision = x.expected_revision END
  RETURNING s.id, s.status, s.step_name, x.last_event
), st AS (
  INSERT INTO {{schema}}.steps AS t (saga_id, step_index, phase, name, status, attempts, output, last_error, error_kind, started_at, finished_at, updated_at)
  SELECT y.saga_id, y.step_index, y.phase, y.name, y.status, y.attempts, y.output, y.last_error, y.error_kind,
         CASE WHEN y.started THEN now() END, CASE WHEN y.finished THEN now() END, now()
  FROM json_to_recordset($3::json) AS y(saga_id uuid, step_index int, phase text, name text, status text, attempts int,
       output jsonb, last_error text, error_kind text, started boolean, finished boolean)
  JOIN su ON su.id = y.saga_id
  ON CONFLICT (saga_id, step_index, phase) DO UPDATE SET
    status = EXCLUDED.status,
    attempts = EXCLUDED.attempts,
    output = COALESCE(EXCLUDED.output, t.output),
    last_error = EXCLUDED.last_error,
    error_kind = EXCLUDED.error_kind,
    started_at = COALESCE(t.started_at, EXCLUDED.started_at),
    finished_at = EXCLUDED.finished_at,
    updated_at = now()
), ev AS (
  INSERT INTO {{schema}}.events (saga_id, type, step, phase, attempt, data)
  SELECT z.saga_id, z.type, z.step, z.phase, z.attempt, z.data
  FROM json_to_recordset($4::json) AS z(ord int, saga_id uuid, type text, step text, phase text, attempt int, data jsonb)
  JOIN su ON su.id = z.saga_id
  ORDER BY z.ord
), iv_open AS (
  INSERT INTO {{schema}}.interventions (saga_id, id, status, reason, step, phase)
  SELECT w.saga_id, w.id, 'open', w.reason, w.step, w.phase
  FROM jsonb_to_recordset($5::jsonb) AS w(saga_id uuid, id uuid, reason text, step text, phase text)
  JOIN su ON su.id = w.saga_id
), iv_resolve AS (
  UPDATE {{schema}}.interventions i SET status = 'resolved', resolved_at = now(), resolved_by = r.by, action = r.action, note = r.note
  FROM jsonb_to_recordset($6::jsonb) AS r(saga_id uuid, by text, action text, note text)
  JOIN su ON su.id = r.saga_id
  WHERE i.saga_id = r.saga_id AND i.status = 'open'
)
SELECT su.id, (
  SELECT pg_notify($7, CASE WHEN count(*) > 40 THEN json_build_object('count', count(*))
    ELSE json_build_object('count', count(*), 'changes', json_agg(json_build_object('id', a.id, 'status', a.status, 'event', a.last_event, 'step', a.step_name)))
  END::text)
  FROM su a HAVING $9::boolean
) AS notified,
(SELECT pg_notify($8, '') WHERE EXISTS (SELECT 1 FROM x JOIN su ON su.id = x.id WHERE x.due = 'now')) AS woke
FROM su`

const claimSql = (onlyOne: string, cap: number) => `
WITH c AS (
  SELECT * FROM (
    SELECT id, lease_owner AS previous_owner FROM {{schema}}.sagas
    WHERE status IN ('pending', 'running', 'compensating') AND due_at <= now() ${onlyOne}
    ORDER BY due_at
    LIMIT ${cap}
    FOR UPDATE SKIP LOCKED
  ) q LIMIT $3
)
UPDATE {{schema}}.sagas s SET lease_owner = $1, due_at = now() + $2 * interval '1 millisecond'
FROM c WHERE s.id = c.id
RETURNING c.previous_owner, false AS started, ${SAGA_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}`

/**
 * The worker's claim, which also starts the sagas it can: a pending saga, never leased,
 * before its deadline, of a definition in $4 (`{"name@version": "first step name"}`)
 * leaves the claim running its first step (attempt 1), with the step row and the
 * saga.started and step.started events the start transition would have written. That
 * transition would be the next statement anyway, with nothing in between that could
 * change it; folding it in saves a statement and a commit per saga.
 */
const claimStartingSql = (cap: number) => `
WITH c AS (
  SELECT * FROM (
    SELECT id, lease_owner AS previous_owner,
           status = 'pending' AND lease_owner IS NULL AND (deadline_at IS NULL OR deadline_at > now())
             AND $4::jsonb ? (definition || '@' || version) AS starts
    FROM {{schema}}.sagas
    WHERE status IN ('pending', 'running', 'compensating') AND due_at <= now()
    ORDER BY due_at
    LIMIT ${cap}
    FOR UPDATE SKIP LOCKED
  ) q LIMIT $3
), u AS (
  UPDATE {{schema}}.sagas s SET
    lease_owner = $1,
    due_at = now() + $2 * interval '1 millisecond',
    status = CASE WHEN c.starts THEN 'running' ELSE s.status END,
    step_index = CASE WHEN c.starts THEN 0 ELSE s.step_index END,
    step_name = CASE WHEN c.starts THEN $4::jsonb ->> (s.definition || '@' || s.version) ELSE s.step_name END,
    revision = s.revision + CASE WHEN c.starts THEN 1 ELSE 0 END,
    last_error = CASE WHEN c.starts THEN NULL ELSE s.last_error END,
    waiting_for = CASE WHEN c.starts THEN NULL ELSE s.waiting_for END,
    updated_at = CASE WHEN c.starts THEN now() ELSE s.updated_at END
  FROM c WHERE s.id = c.id
  RETURNING c.previous_owner, c.starts AS started, ${SAGA_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}
), st AS (
  INSERT INTO {{schema}}.steps AS t (saga_id, step_index, phase, name, status, attempts, started_at, updated_at)
  SELECT u.id, 0, 'action', u.step_name, 'running', 1, now(), now() FROM u WHERE u.started
  ON CONFLICT (saga_id, step_index, phase) DO UPDATE SET
    status = 'running', attempts = 1, last_error = NULL, error_kind = NULL,
    started_at = COALESCE(t.started_at, EXCLUDED.started_at), finished_at = NULL, updated_at = now()
), ev AS (
  INSERT INTO {{schema}}.events (saga_id, type, step, phase, attempt)
  SELECT u.id, e.type, CASE WHEN e.ord = 2 THEN u.step_name END, CASE WHEN e.ord = 2 THEN 'action' END, CASE WHEN e.ord = 2 THEN 1 END
  FROM u CROSS JOIN (VALUES (1, 'saga.started'), (2, 'step.started')) AS e(ord, type)
  WHERE u.started
  ORDER BY u.id, e.ord
)
SELECT u.*, (
  SELECT pg_notify($5, CASE WHEN count(*) > 40 THEN json_build_object('count', count(*))
    ELSE json_build_object('count', count(*), 'changes', json_agg(json_build_object('id', a.id, 'status', 'running', 'event', 'step.started', 'step', a.step_name)))
  END::text)
  FROM u a WHERE a.started AND $6::boolean HAVING count(*) > 0
) AS notified
FROM u`

/** A start as the engine asks for it: the definition's latest version unless `version` is given. */
export interface NewStart {
  id: string
  definition: string
  version: number | null
  input: unknown
  key: string | null
  tags: Record<string, string>
}

export interface Started {
  saga: Saga
  created: boolean
}

/**
 * Any number of starts in one statement: each one's definition version and deadline are
 * read from the definitions table in the statement itself, its pending saga and its
 * saga.created event are written, and the workers and the console are woken once for
 * all of them. A start whose key was used before gets the saga it started.
 */
const START_SQL = `
WITH r AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(ord int, id uuid, definition text, version int, input jsonb, key text, tags jsonb)
), ins AS (
  INSERT INTO {{schema}}.sagas (id, definition, version, status, input, idempotency_key, due_at, deadline_at, tags)
  SELECT r.id, r.definition, d.version, 'pending', COALESCE(r.input, 'null'::jsonb), r.key, now(),
         CASE WHEN d.timeout IS NOT NULL THEN now() + d.timeout * interval '1 millisecond' END, COALESCE(r.tags, '{}'::jsonb)
  FROM r CROSS JOIN LATERAL (
    SELECT x.version, (x.spec->>'timeout')::bigint AS timeout FROM {{schema}}.definitions x
    WHERE x.name = r.definition AND (r.version IS NULL OR x.version = r.version)
    ORDER BY x.version DESC LIMIT 1
  ) d
  ORDER BY r.ord
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING ${SAGA_COLUMNS}
), ev AS (
  INSERT INTO {{schema}}.events (saga_id, type, data) SELECT id, 'saga.created', jsonb_build_object('key', idempotency_key) FROM ins ORDER BY id
), n AS (
  SELECT pg_notify($2, CASE WHEN a.n > 40 THEN json_build_object('count', a.n) ELSE json_build_object('count', a.n, 'changes', a.changes) END::text),
         pg_notify($3, '')
  FROM (SELECT count(*) AS n, json_agg(json_build_object('id', id, 'status', 'pending', 'event', 'saga.created', 'step', NULL)) AS changes FROM ins) a
  -- Notifying transactions commit one at a time: only the start holding this lock notifies (see sql/0002_service_api.sql).
  WHERE a.n > 0 AND pg_try_advisory_xact_lock(hashtext('sagactl.notify'), hashtext($4))
)
SELECT true AS created, ins.* FROM ins CROSS JOIN (SELECT count(*) FROM n) AS notified
UNION ALL
SELECT false AS created, ${SAGA_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}
FROM {{schema}}.sagas s JOIN r ON r.key IS NOT NULL AND s.idempotency_key = r.key
WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.idempotency_key = r.key)`

export interface ClaimedSaga {
  saga: Saga
  /** The worker whose lease had expired, when this claim takes a saga over. */
  reclaimedFrom: string | null
  /** The claim started the saga: it is running its first step, attempt 1, and the call is next. */
  started: boolean
}

/** Definitions whose first step a claim may start: `name@version` to the first step's name. */
export type StartableDefinitions = Record<string, string>

/**
 * The claims' row limit as a constant the planner can see: the next power of two at or
 * above `limit` (the exact limit is applied on top). With `LIMIT $3` alone the generic
 * plan assumes a tenth of the table will be fetched, so PostgreSQL re-planned the claim on
 * every call; with a constant cap it keeps one plan per cap (a handful per connection).
 */
export function limitCap(limit: number): number {
  let cap = 1
  while (cap < limit) cap *= 2
  return cap
}

function claimed(r: Record<string, unknown>, workerId: string): ClaimedSaga {
  return {
    saga: toSaga(r),
    reclaimedFrom: r.previous_owner && r.previous_owner !== workerId ? (r.previous_owner as string) : null,
    started: r.started === true,
  }
}

export class SagaStore {
  private readonly channel: string
  private readonly workChannel: string
  /**
   * Whether transitions and starting claims notify the events channel. Always, unless an
   * owner that knows no one listens says otherwise (a worker; see EVENTS_LISTENER_LOCK).
   */
  notifyEvents: () => boolean = () => true

  constructor(readonly db: Database) {
    this.channel = channelFor(db.schema)
    this.workChannel = workChannelFor(db.schema)
  }

  /**
   * Writes the starts in one statement. Each answer is in the order of `starts`; it is
   * undefined when the start neither wrote a saga nor found one by its key: an unknown
   * definition or version, or a concurrent start with the same key that committed after
   * this statement began (asking again sees it). No two starts may share a key.
   */
  async insertMany(starts: NewStart[]): Promise<Array<Started | undefined>> {
    const rows = starts.map((s, ord) => ({ ord, id: s.id, definition: s.definition, version: s.version, input: s.input ?? null, key: s.key, tags: s.tags }))
    const res = await this.db.query(START_SQL, [JSON.stringify(rows), this.channel, this.workChannel, this.db.schema], { name: 'sagactl_start' }).catch(deletedKeyConflict)
    const byId = new Map<string, Started>()
    const byKey = new Map<string, Started>()
    for (const r of res.rows) {
      const found = { saga: toSaga(r), created: r.created === true }
      if (found.created) byId.set(found.saga.id, found)
      else byKey.set(r.idempotency_key as string, found)
    }
    return starts.map((s) => byId.get(s.id) ?? (s.key === null ? undefined : byKey.get(s.key)))
  }

  /**
   * Claims up to `limit` runnable sagas: due now, not leased (an expired lease makes a
   * saga due again, because a lease ends at due_at). SKIP LOCKED lets any number of
   * workers claim side by side without waiting on each other.
   */
  async claim(workerId: string, leaseMs: number, limit: number, onlyId?: string): Promise<ClaimedSaga[]> {
    // Two statements rather than `$4 IS NULL OR id = $4`, which PostgreSQL would re-plan on every call.
    const cap = limitCap(limit)
    const res = await this.db.query(
      claimSql(onlyId ? 'AND id = $4' : '', cap),
      onlyId ? [workerId, leaseMs, limit, onlyId] : [workerId, leaseMs, limit],
      { name: onlyId ? `sagactl_claim_one_${cap}` : `sagactl_claim_${cap}` },
    )
    return res.rows.map((r) => claimed(r, workerId))
  }

  /** A claim that also starts the pending sagas of `startable` definitions (see claimStartingSql). */
  async claimStarting(workerId: string, leaseMs: number, limit: number, startable: StartableDefinitions): Promise<ClaimedSaga[]> {
    const cap = limitCap(limit)
    const res = await this.db.query(claimStartingSql(cap), [workerId, leaseMs, limit, JSON.stringify(startable), this.channel, this.notifyEvents()], {
      name: `sagactl_claim_start_${cap}`,
    })
    return res.rows.map((r) => claimed(r, workerId))
  }

  async steps(sagaIds: string[], q: Queryable = this.db): Promise<StepRecord[]> {
    if (sagaIds.length === 0) return []
    const res = await q.query(`SELECT ${STEP_COLUMNS} FROM {{schema}}.steps WHERE saga_id = ANY($1::uuid[])`, [sagaIds])
    return res.rows.map(toStep)
  }

  /** Writes transitions in one statement; returns the ids that were applied (lease or revision still held). */
  async apply(transitions: Transition[], workerId: string, q: Queryable = this.db): Promise<Set<string>> {
    if (transitions.length === 0) return new Set()
    const sagas = []
    const steps = []
    const events = []
    const opens = []
    const resolves = []
    let ord = 0
    // Sent as json with null and false fields left out (both read as NULL, which every
    // CASE and COALESCE below treats as false or absent): the server decodes half as much.
    for (const t of transitions) {
      const c = t.saga
      sagas.push({
        id: t.sagaId,
        expected_revision: t.expectedRevision ?? undefined,
        status: c.status,
        step_index: c.stepIndex ?? undefined,
        step_name: c.stepName ?? undefined,
        due: c.due,
        due_at: c.dueAt ?? undefined,
        release: c.release || undefined,
        set_plan: c.compPlan !== undefined || undefined,
        comp_plan: c.compPlan ?? undefined,
        last_error: c.lastError ?? undefined,
        set_reason: c.reason !== undefined || undefined,
        reason: c.reason ?? undefined,
        finished: c.finished || undefined,
        last_event: t.events.at(-1)?.type,
        waiting_for: c.waitingFor ?? undefined,
      })
      for (const s of t.steps) {
        steps.push({
          saga_id: t.sagaId,
          step_index: s.index,
          phase: s.phase,
          name: s.name,
          status: s.status,
          attempts: s.attempts,
          output: s.output ?? undefined,
          last_error: s.lastError ?? undefined,
          error_kind: s.errorKind ?? undefined,
          started: s.started || undefined,
          finished: s.finished || undefined,
        })
      }
      for (const e of t.events) {
        events.push({ ord: ord++, saga_id: t.sagaId, type: e.type, step: e.step, phase: e.phase, attempt: e.attempt, data: e.data ?? undefined })
      }
      if (t.intervention?.open) opens.push({ saga_id: t.sagaId, ...t.intervention.open })
      if (t.intervention?.resolve) resolves.push({ saga_id: t.sagaId, ...t.intervention.resolve })
    }
    const res = await q.query<{ id: string }>(TRANSITION_SQL, [
      JSON.stringify(sagas),
      workerId,
      JSON.stringify(steps),
      JSON.stringify(events),
      JSON.stringify(opens),
      JSON.stringify(resolves),
      this.channel,
      this.workChannel,
      this.notifyEvents(),
    ], { name: 'sagactl_transition' })
    return new Set(res.rows.map((r) => r.id))
  }

  /** Extends the leases this worker still holds; returns the ids it still holds. */
  async renewLeases(workerId: string, ids: string[], leaseMs: number): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const res = await this.db.query<{ id: string }>(
      `UPDATE {{schema}}.sagas SET due_at = now() + $3 * interval '1 millisecond'
       WHERE id = ANY($2::uuid[]) AND lease_owner = $1 AND status IN ('pending', 'running', 'compensating')
       RETURNING id`,
      [workerId, ids, leaseMs],
    )
    return new Set(res.rows.map((r) => r.id))
  }

  /** Hands sagas back untouched so another worker can continue them at once. */
  async release(workerId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return
    await this.db.query(
      `WITH r AS (UPDATE {{schema}}.sagas SET lease_owner = NULL, due_at = now() WHERE id = ANY($2::uuid[]) AND lease_owner = $1 RETURNING id)
       SELECT pg_notify($3, '') FROM r LIMIT 1`,
      [workerId, ids, this.workChannel],
    )
  }

  /** Hands back every saga an owner still holds (a worker stopping, a pass ending), waking idle workers. */
  async releaseAll(owner: string): Promise<void> {
    await this.db.query(
      `WITH r AS (UPDATE {{schema}}.sagas SET lease_owner = NULL, due_at = now() WHERE lease_owner = $1 AND status IN ('pending', 'running', 'compensating') RETURNING id)
       SELECT pg_notify($2, '') FROM r LIMIT 1`,
      [owner, this.workChannel],
    )
  }

  /** Reads a saga for an operator action, locking the row for the rest of the transaction. */
  async lockSaga(q: Queryable, id: string): Promise<Saga | null> {
    const res = await q.query(`SELECT ${SAGA_COLUMNS} FROM {{schema}}.sagas WHERE id = $1 FOR UPDATE`, [id])
    return res.rows[0] ? toSaga(res.rows[0]) : null
  }

  async get(id: string, q: Queryable = this.db): Promise<Saga | null> {
    const res = await q.query(`SELECT ${SAGA_COLUMNS} FROM {{schema}}.sagas WHERE id = $1`, [id])
    return res.rows[0] ? toSaga(res.rows[0]) : null
  }

  async stepsOf(sagaId: string, q: Queryable = this.db): Promise<StepRecord[]> {
    const res = await q.query(`SELECT ${STEP_COLUMNS} FROM {{schema}}.steps WHERE saga_id = $1 ORDER BY step_index, phase`, [sagaId])
    return res.rows.map(toStep)
  }

  /** The earliest time a saga becomes runnable, for a worker deciding how long to sleep. */
  async nextDue(): Promise<Date | null> {
    const res = await this.db.query<{ due: Date | null }>(
      `SELECT min(due_at) AS due FROM {{schema}}.sagas WHERE status IN ('pending', 'running', 'compensating')`,
    )
    return res.rows[0]?.due ?? null
  }
}

/** SQLSTATE SG004 (sql/0006): the start key belonged to a deleted saga; a conflict, exit 4. */
function deletedKeyConflict(err: unknown): never {
  const e = err as { code?: unknown; message?: string; hint?: string }
  if (e?.code === 'SG004') throw new ConflictError(e.message ?? 'the key belonged to a deleted saga', e.hint ?? 'a start key is never used again: start with a new key')
  throw err
}
