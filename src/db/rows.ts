import type { AuditEntry, Intervention, Saga, SagaEvent, StepRecord } from '../engine/types.js'

/** Column lists and row mappers shared by every query module: one place knows the table shapes. */

export const SAGA_COLUMNS =
  'id, definition, version, status, step_index, step_name, input, idempotency_key, revision, due_at, lease_owner, deadline_at, comp_plan, last_error, reason, created_at, updated_at, finished_at, waiting_for, tags, forked_from'

/** Everything but the input, which a list never shows and which may be large. */
export const SAGA_LIST_COLUMNS = SAGA_COLUMNS.replace('input, ', '')

type Row = Record<string, unknown>

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v)))

export function toSaga(r: Row): Saga {
  return {
    id: r.id as string,
    definition: r.definition as string,
    version: r.version as number,
    status: r.status as Saga['status'],
    currentStep: (r.step_name as string | null) ?? null,
    stepIndex: (r.step_index as number | null) ?? null,
    input: r.input,
    key: (r.idempotency_key as string | null) ?? null,
    tags: (r.tags as Record<string, string> | null) ?? {},
    forkedFrom: (r.forked_from as string | null) ?? null,
    revision: r.revision as number,
    dueAt: date(r.due_at),
    leaseOwner: (r.lease_owner as string | null) ?? null,
    deadlineAt: date(r.deadline_at),
    compensationPlan: (r.comp_plan as number[] | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    createdAt: date(r.created_at)!,
    updatedAt: date(r.updated_at)!,
    finishedAt: date(r.finished_at),
    waitingFor: (r.waiting_for as string | null) ?? null,
  }
}

export const STEP_COLUMNS = 'saga_id, step_index, phase, name, status, attempts, rerun, output, last_error, error_kind, started_at, finished_at, updated_at'

export function toStep(r: Row): StepRecord {
  return {
    sagaId: r.saga_id as string,
    index: r.step_index as number,
    phase: r.phase as StepRecord['phase'],
    name: r.name as string,
    status: r.status as StepRecord['status'],
    attempts: r.attempts as number,
    rerun: (r.rerun as number | null) ?? 0,
    output: r.output ?? null,
    lastError: (r.last_error as string | null) ?? null,
    errorKind: (r.error_kind as StepRecord['errorKind']) ?? null,
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    updatedAt: date(r.updated_at)!,
  }
}

export const EVENT_COLUMNS = 'saga_id, id, at, type, step, phase, attempt, data'

export function toEvent(r: Row): SagaEvent {
  return {
    id: Number(r.id),
    sagaId: r.saga_id as string,
    at: date(r.at)!,
    type: r.type as SagaEvent['type'],
    step: (r.step as string | null) ?? null,
    phase: (r.phase as SagaEvent['phase']) ?? null,
    attempt: (r.attempt as number | null) ?? null,
    data: (r.data as SagaEvent['data']) ?? null,
  }
}

export const INTERVENTION_COLUMNS = 'saga_id, id, status, reason, step, phase, created_at, resolved_at, resolved_by, action, note'

export function toIntervention(r: Row): Intervention {
  return {
    id: r.id as string,
    sagaId: r.saga_id as string,
    status: r.status as Intervention['status'],
    reason: r.reason as string,
    step: (r.step as string | null) ?? null,
    phase: (r.phase as Intervention['phase']) ?? null,
    createdAt: date(r.created_at)!,
    resolvedAt: date(r.resolved_at),
    resolvedBy: (r.resolved_by as string | null) ?? null,
    action: (r.action as Intervention['action']) ?? null,
    note: (r.note as string | null) ?? null,
  }
}

export const AUDIT_COLUMNS = 'id, at, operator, action, target, saga_id, reason, details'

export function toAudit(r: Row): AuditEntry {
  return {
    id: Number(r.id),
    at: date(r.at)!,
    operator: r.operator as string,
    action: r.action as string,
    target: r.target as string,
    sagaId: (r.saga_id as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    details: (r.details as AuditEntry['details']) ?? null,
  }
}
