import { z } from '@hono/zod-openapi'
import { SAGA_STATUSES, type InterventionAction } from '../engine/types.js'

/*
 * The JSON shapes of the API, one zod definition each: requests are validated with them
 * and the OpenAPI document is generated from them. Response shapes are the same objects
 * the CLI prints with --json (a test holds the CLI's output to these schemas).
 */

const time = z.iso.datetime({ offset: true }).openapi({ example: '2026-12-01T10:00:00.000Z' })
const uuid = z.uuid().openapi({ example: '01938f4e-7c3d-7e4f-8a5b-6c7d8e9fa0b1' })
const INTERVENTION_ACTIONS = ['retry', 'skip', 'compensate', 'abort'] as const satisfies readonly InterventionAction[]

export const SagaStatusSchema = z.enum(SAGA_STATUSES as [string, ...string[]]).openapi('SagaStatus')

export const SagaSchema = z
  .object({
    id: uuid,
    definition: z.string(),
    version: z.int(),
    status: SagaStatusSchema,
    currentStep: z.string().nullable(),
    stepIndex: z.int().nullable(),
    input: z.unknown(),
    key: z.string().nullable(),
    revision: z.int(),
    dueAt: time.nullable(),
    leaseOwner: z.string().nullable(),
    deadlineAt: time.nullable(),
    compensationPlan: z.array(z.int()).nullable(),
    lastError: z.string().nullable(),
    reason: z.string().nullable(),
    createdAt: time,
    updatedAt: time,
    finishedAt: time.nullable(),
    tags: z.record(z.string(), z.string()).openapi({ description: 'Business tags given at start (saga start --tag k=v).' }),
    forkedFrom: uuid.nullable(),
    waitingFor: z.string().nullable().openapi({ description: 'The participant the saga waits for (paused, circuit open, at a limit), else null.' }),
  })
  .openapi('Saga')

/** A saga in a list: everything but the input, which a list never loads (it may be large). */
export const SagaSummarySchema = SagaSchema.omit({ input: true }).openapi('SagaSummary')

export const StepSchema = z
  .object({
    sagaId: uuid,
    index: z.int(),
    phase: z.enum(['action', 'compensation']),
    name: z.string(),
    status: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped']),
    attempts: z.int(),
    output: z.unknown(),
    lastError: z.string().nullable(),
    errorKind: z.enum(['business', 'failure', 'transient', 'pending', 'timeout']).nullable(),
    startedAt: time.nullable(),
    finishedAt: time.nullable(),
    updatedAt: time,
  })
  .openapi('Step')

export const InterventionSchema = z
  .object({
    id: uuid,
    sagaId: uuid,
    status: z.enum(['open', 'resolved']),
    reason: z.string(),
    step: z.string().nullable(),
    phase: z.enum(['action', 'compensation']).nullable(),
    createdAt: time,
    resolvedAt: time.nullable(),
    resolvedBy: z.string().nullable(),
    action: z.enum(INTERVENTION_ACTIONS).nullable(),
    note: z.string().nullable(),
    definition: z.string(),
    version: z.int(),
    sagaStatus: SagaStatusSchema,
    currentStep: z.string().nullable(),
  })
  .openapi('Intervention')

export const ForkSummarySchema = z
  .object({ id: uuid, status: SagaStatusSchema, version: z.int(), currentStep: z.string().nullable(), createdAt: time })
  .openapi('ForkSummary', { description: 'A saga forked from this one (forkedFrom names this one).' })

export const SagaDetailSchema = SagaSchema.extend({
  steps: z.array(StepSchema),
  intervention: InterventionSchema.nullable(),
  forks: z.array(ForkSummarySchema),
}).openapi('SagaDetail')

export const EventSchema = z
  .object({
    id: z.int(),
    sagaId: uuid,
    at: time,
    type: z.string().openapi({ example: 'step.succeeded' }),
    step: z.string().nullable(),
    phase: z.enum(['action', 'compensation']).nullable(),
    attempt: z.int().nullable(),
    data: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('Event')

const page = <T extends z.ZodType>(item: T, name: string, cursor: string) =>
  z.object({ items: z.array(item), next: z.string().nullable().openapi({ description: cursor }) }).openapi(name)

export const SagaPageSchema = page(SagaSummarySchema, 'SagaPage', 'Pass as ?after= for the next page; null on the last page.')
export const EventPageSchema = page(EventSchema, 'EventPage', 'Pass as ?after= for the next page (an event id); null on the last page.')
export const InterventionPageSchema = page(InterventionSchema, 'InterventionPage', 'Pass as ?after= for the next page; null on the last page.')

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'not_found' }),
      message: z.string(),
      hint: z.string().nullable(),
    }),
  })
  .openapi('Error')

export const HealthSchema = z
  .object({
    healthy: z.boolean(),
    active: z.int().openapi({ description: 'Pending, running and compensating sagas.' }),
    suspended: z.int().openapi({ description: 'Suspended sagas, each waiting for a person; not in active.' }),
    longRunning: z.int(),
    stuck: z.int(),
    openInterventions: z.int(),
    liveWorkers: z.int(),
    rules: z.array(z.object({ name: z.string(), ok: z.boolean(), value: z.number().nullable(), threshold: z.number(), message: z.string() })),
  })
  .openapi('Health', { description: 'The document `sagactl health --json` prints.' })

// Requests.

export const StartRequestSchema = z
  .object({
    definition: z.string().min(1).openapi({ example: 'order-checkout' }),
    input: z.unknown().optional().openapi({ description: 'The saga input (any JSON); default {}.', example: { orderId: 'o-1042', amount: 25 } }),
    key: z.string().min(1).max(500).optional().openapi({ description: 'Idempotency key: the same key returns the saga it started before.', example: 'order-1042' }),
    version: z.int().min(1).optional().openapi({ description: 'Definition version; default the latest.' }),
  })
  .openapi('StartRequest')

export const ActionRequestSchema = z
  .object({
    reason: z.string().min(1).optional().openapi({ description: 'Why, for the audit log (required for skip and abort).' }),
    step: z.string().min(1).optional().openapi({ description: 'retry: the failed step, as a check; skip: the failed step to mark done (required).' }),
    force: z.boolean().optional().openapi({ description: 'abort: must be true (abort marks the saga failed WITHOUT compensating).' }),
    fromStep: z.string().min(1).optional().openapi({ description: 'retry: run this step and every step after it again (new idempotency keys); the steps before it keep their outputs.' }),
    input: z.unknown().optional().openapi({ description: 'retry: replaces the saga input before it resumes (the audit row keeps both).' }),
    output: z.unknown().optional().openapi({ description: "skip: the skipped action's output, which later steps read in results." }),
  })
  .openapi('ActionRequest')

const versionChoice = z.union([z.int().min(1), z.literal('latest')]).openapi({ description: 'A version number, or "latest".', example: 'latest' })

export const ForkRequestSchema = z
  .object({
    fromStep: z.string().min(1).optional().openapi({ description: 'The first step the fork calls; the steps before it keep the original outputs. Default: the first step.' }),
    input: z.unknown().optional().openapi({ description: "The fork's input; default the original's." }),
    version: versionChoice.optional().openapi({ description: "The fork's definition version: a number or \"latest\"; default the original's." }),
    key: z.string().min(1).max(256).optional().openapi({ description: "The fork's start key; default none." }),
    reason: z.string().min(1).optional().openapi({ description: 'Why, for the audit log (required unless dryRun).' }),
    dryRun: z.boolean().optional().openapi({ description: 'Only the plan: nothing is started.' }),
  })
  .openapi('ForkRequest')

export const MigrateRequestSchema = z
  .object({
    toVersion: versionChoice,
    reason: z.string().min(1).optional().openapi({ description: 'Why, for the audit log (required unless dryRun).' }),
    dryRun: z.boolean().optional().openapi({ description: 'Only the plan: nothing is changed.' }),
  })
  .openapi('MigrateRequest')

const refusal = z.string().nullable().openapi({ description: 'Why the action would be refused (as the 409 would say); null when allowed.' })
const stepStatus = z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped'])

export const ForkPlanSchema = z
  .object({
    sagaId: uuid.openapi({ description: 'The original.' }),
    status: SagaStatusSchema,
    definition: z.string(),
    fromVersion: z.int(),
    version: z.int(),
    fromStep: z.string(),
    key: z.string().nullable(),
    inputReplaced: z.boolean(),
    allowed: z.boolean(),
    refusal,
    steps: z.array(z.object({ step: z.string(), index: z.int(), action: z.enum(['keep', 'call']), status: stepStatus.nullable() })),
  })
  .openapi('ForkPlan')

export const MigratePlanSchema = z
  .object({
    sagaId: uuid,
    status: SagaStatusSchema,
    definition: z.string(),
    fromVersion: z.int(),
    toVersion: z.int(),
    currentStep: z.string().nullable(),
    allowed: z.boolean(),
    refusal,
    steps: z.array(z.object({ step: z.string(), from: z.int().nullable(), to: z.int().nullable(), ran: z.boolean(), changed: z.boolean() })),
  })
  .openapi('MigratePlan')

export const ForkResultSchema = z
  .object({ plan: ForkPlanSchema, saga: SagaSchema.nullable().openapi({ description: 'The fork; null for a dry run.' }) })
  .openapi('ForkResult')

export const MigrateResultSchema = z
  .object({ plan: MigratePlanSchema, saga: SagaSchema.nullable().openapi({ description: 'The saga on its new version; null for a dry run.' }) })
  .openapi('MigrateResult')

export const ResolveRequestSchema = z
  .object({
    action: z.enum(INTERVENTION_ACTIONS),
    note: z.string().min(1).openapi({ description: 'What you checked or did, for the intervention and the audit log.' }),
  })
  .openapi('ResolveRequest')

const flag = z.enum(['true', 'false']).optional()
const duration = (description: string) => z.string().optional().openapi({ description, example: '1h' })

/** A query parameter that may be given more than once (one value arrives as a string). */
const repeated = z.union([z.string(), z.array(z.string())]).optional()

export const SagaListQuerySchema = z.object({
  status: z.string().optional().openapi({ description: `Comma-separated statuses: ${SAGA_STATUSES.join(', ')}.` }),
  definition: z.string().optional(),
  version: z.coerce.number().int().min(1).optional().openapi({ type: 'integer', description: 'With definition.' }),
  since: duration('Only sagas created in this last period (90s, 10m, 1h, 2d).'),
  stuck: flag.openapi({ description: 'Only stuck sagas (no progress for stuckAfter).' }),
  stuckAfter: duration('How long without progress counts as stuck; default 10m.'),
  failing: flag.openapi({ description: 'Only sagas still running whose latest call failed.' }),
  error: z.string().optional().openapi({ description: 'Text in the last error or reason, case-insensitive.' }),
  key: z.string().min(1).optional().openapi({ description: 'The start key.' }),
  tag: repeated.openapi({ description: 'key=value; repeat it: every tag must match.', example: 'region=eu' }),
  where: repeated.openapi({ description: 'input.<path>=<value>, equality on the input; repeat it: every one must match.', example: 'input.customer.id=42' }),
  limit: z.coerce.number().int().min(1).max(1000).default(50).openapi({ type: 'integer' }),
  after: z.string().optional().openapi({ description: 'The "next" cursor of the previous page.' }),
})

export const SagaGetQuerySchema = z.object({
  wait: duration('Hold the request until the saga is finished or suspended, or this long (at most 5m).').openapi({ example: '30s' }),
})

export const EventsQuerySchema = z.object({
  after: z.coerce.number().int().min(0).optional().openapi({ type: 'integer', description: 'Continue after this event id.' }),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000).openapi({ type: 'integer' }),
})

export const InterventionListQuerySchema = z.object({
  status: z.enum(['open', 'resolved', 'all']).default('open'),
  definition: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50).openapi({ type: 'integer' }),
  after: z.string().optional(),
})

export const IdParamSchema = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'Full id or a unique prefix (at least 4 hex digits).' }),
})

export const ActionParamSchema = IdParamSchema.extend({
  action: z.enum(['retry', 'compensate', 'skip', 'abort']).openapi({ param: { name: 'action', in: 'path' } }),
})
