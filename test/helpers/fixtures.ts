import { v7 } from 'uuid'
import { AUDIT_COLUMNS, EVENT_COLUMNS, INTERVENTION_COLUMNS, SAGA_COLUMNS, STEP_COLUMNS, toAudit, toEvent, toIntervention, toSaga, toStep } from '../../src/db/rows.js'
import type { Queryable } from '../../src/db/types.js'
import { ACTIVE_STATUSES, TERMINAL_STATUSES, type AuditEntry, type Intervention, type Saga, type SagaEvent, type StepRecord } from '../../src/engine/types.js'

/**
 * Test data written straight into the tables, bypassing the engine, so readers (queries,
 * commands, the console) can be tested against any state. Every field has a default;
 * give only what the test is about.
 */

export type StepSeed = Partial<Omit<StepRecord, 'sagaId'>>
export type EventSeed = Partial<Omit<SagaEvent, 'sagaId'>>
export type InterventionSeed = Partial<Omit<Intervention, 'sagaId'>>
export type AuditSeed = Partial<AuditEntry>

export interface SagaSeed extends Partial<Saga> {
  steps?: StepSeed[]
  events?: EventSeed[]
  intervention?: InterventionSeed
  audit?: AuditSeed[]
}

export interface SagaFixture {
  saga: Saga
  steps: StepRecord[]
  events: SagaEvent[]
  intervention: Intervention | null
  audit: AuditEntry[]
}

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v))

/**
 * A saga row, plus (in the same call) its steps, events, one intervention and audit rows.
 * Defaults: definition order-checkout@1, status running, created now, id a UUIDv7 of
 * `createdAt` (so "newest first" follows createdAt), due now while active, finished
 * at `updatedAt` once terminal.
 */
export async function insertSaga(q: Queryable, seed: SagaSeed = {}): Promise<SagaFixture> {
  const createdAt = seed.createdAt ?? new Date()
  const id = seed.id ?? (seed.createdAt ? v7({ msecs: createdAt.getTime() }) : v7())
  const status = seed.status ?? 'running'
  const updatedAt = seed.updatedAt ?? createdAt
  const res = await q.query(
    `INSERT INTO sagas (id, definition, version, status, step_index, step_name, input, idempotency_key, revision, due_at, lease_owner,
                        deadline_at, comp_plan, last_error, reason, created_at, updated_at, finished_at, tags)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13::int[], $14, $15, $16, $17, $18, $19::jsonb)
     RETURNING ${SAGA_COLUMNS}`,
    [
      id,
      seed.definition ?? 'order-checkout',
      seed.version ?? 1,
      status,
      seed.stepIndex ?? null,
      seed.currentStep ?? null,
      json(seed.input ?? {}),
      seed.key ?? null,
      seed.revision ?? 0,
      seed.dueAt !== undefined ? seed.dueAt : ACTIVE_STATUSES.includes(status) ? updatedAt : null,
      seed.leaseOwner ?? null,
      seed.deadlineAt ?? null,
      seed.compensationPlan ?? null,
      seed.lastError ?? null,
      seed.reason ?? null,
      createdAt,
      updatedAt,
      seed.finishedAt !== undefined ? seed.finishedAt : TERMINAL_STATUSES.includes(status) ? updatedAt : null,
      json(seed.tags ?? {}),
    ],
  )
  const saga = toSaga(res.rows[0]!)
  const steps: StepRecord[] = []
  for (const [i, s] of (seed.steps ?? []).entries()) steps.push(await insertStep(q, saga.id, { index: i, startedAt: createdAt, ...s }))
  const events: SagaEvent[] = []
  for (const e of seed.events ?? []) events.push(await insertEvent(q, saga.id, { at: createdAt, ...e }))
  const intervention = seed.intervention ? await insertIntervention(q, saga.id, seed.intervention) : null
  const audit: AuditEntry[] = []
  for (const a of seed.audit ?? []) audit.push(await insertAudit(q, { sagaId: saga.id, target: saga.id, ...a }))
  return { saga, steps, events, intervention, audit }
}

/** Defaults: action phase, name `step-<index>`, succeeded with one attempt, finished when it started. */
export async function insertStep(q: Queryable, sagaId: string, seed: StepSeed = {}): Promise<StepRecord> {
  const index = seed.index ?? 0
  const status = seed.status ?? 'succeeded'
  const startedAt = seed.startedAt !== undefined ? seed.startedAt : status === 'pending' ? null : new Date()
  const finishedAt = seed.finishedAt !== undefined ? seed.finishedAt : ['succeeded', 'failed', 'skipped'].includes(status) ? startedAt : null
  const res = await q.query(
    `INSERT INTO steps (saga_id, step_index, phase, name, status, attempts, output, last_error, error_kind, started_at, finished_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)
     RETURNING ${STEP_COLUMNS}`,
    [
      sagaId,
      index,
      seed.phase ?? 'action',
      seed.name ?? `step-${index}`,
      status,
      seed.attempts ?? (status === 'pending' ? 0 : 1),
      json(seed.output),
      seed.lastError ?? null,
      seed.errorKind ?? null,
      startedAt,
      finishedAt,
      seed.updatedAt ?? finishedAt ?? startedAt ?? new Date(),
    ],
  )
  return toStep(res.rows[0]!)
}

/** Defaults: type saga.created, now; the id comes from the identity column unless given. */
export async function insertEvent(q: Queryable, sagaId: string, seed: EventSeed = {}): Promise<SagaEvent> {
  const values = [sagaId, seed.at ?? new Date(), seed.type ?? 'saga.created', seed.step ?? null, seed.phase ?? null, seed.attempt ?? null, json(seed.data)]
  const res =
    seed.id === undefined
      ? await q.query(`INSERT INTO events (saga_id, at, type, step, phase, attempt, data) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING ${EVENT_COLUMNS}`, values)
      : await q.query(
          `INSERT INTO events (saga_id, at, type, step, phase, attempt, data, id) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8) RETURNING ${EVENT_COLUMNS}`,
          [...values, seed.id],
        )
  return toEvent(res.rows[0]!)
}

/** Defaults: open, a UUIDv7 id, created now; resolved ones get resolvedAt now and resolvedBy "tester". */
export async function insertIntervention(q: Queryable, sagaId: string, seed: InterventionSeed = {}): Promise<Intervention> {
  const status = seed.status ?? 'open'
  const createdAt = seed.createdAt ?? new Date()
  const resolved = status === 'resolved'
  const res = await q.query(
    `INSERT INTO interventions (saga_id, id, status, reason, step, phase, created_at, resolved_at, resolved_by, action, note)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     RETURNING ${INTERVENTION_COLUMNS}`,
    [
      sagaId,
      seed.id ?? (seed.createdAt ? v7({ msecs: createdAt.getTime() }) : v7()),
      status,
      seed.reason ?? 'compensation exhausted its retries',
      seed.step ?? null,
      seed.phase ?? null,
      createdAt,
      seed.resolvedAt !== undefined ? seed.resolvedAt : resolved ? new Date() : null,
      seed.resolvedBy !== undefined ? seed.resolvedBy : resolved ? 'tester' : null,
      seed.action ?? null,
      seed.note ?? null,
    ],
  )
  return toIntervention(res.rows[0]!)
}

/** Defaults: operator "tester", action "retry", now; the target is the saga when there is one. */
export async function insertAudit(q: Queryable, seed: AuditSeed = {}): Promise<AuditEntry> {
  const res = await q.query(
    `INSERT INTO audit_log (operator, action, target, saga_id, reason, details, at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING ${AUDIT_COLUMNS}`,
    [
      seed.operator ?? 'tester',
      seed.action ?? 'retry',
      seed.target ?? seed.sagaId ?? 'unknown',
      seed.sagaId ?? null,
      seed.reason ?? null,
      json(seed.details),
      seed.at ?? new Date(),
    ],
  )
  return toAudit(res.rows[0]!)
}
