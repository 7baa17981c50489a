// Shared types of the demo services: the wire protocol of sagactl's http executor
// (SPEC.md section 2), the tunables, the call log and the consistency report.

export const SERVICE_NAMES = ['customer', 'inventory', 'order', 'payment', 'points', 'notification'] as const
export type ServiceName = (typeof SERVICE_NAMES)[number]

export type Phase = 'action' | 'compensation'

/** The saga input the order-checkout services understand. */
export interface OrderInput {
  customerId: string
  items: Array<{ sku: string; qty: number }>
  amount: number
}

/** The JSON body sagactl's http executor sends. */
export interface StepRequest {
  sagaId: string
  step: string
  phase: Phase
  attempt: number
  input: Record<string, unknown>
  results: Record<string, unknown>
}

/** What a handler answers; status and body go on the wire unchanged. */
export interface Outcome {
  status: number
  body: unknown
}

export interface Tunables {
  /** 0..1, per saga and refusing action: probability of a business failure (409/422). */
  failureRate: number
  /** 0..1, per call: probability of a transient 503, or of a lost response (effect applied, then 500). */
  flakyRate: number
  /** Mean added latency in ms; each call waits between 0.5x and 1.5x of it. */
  latency: number
  /** 0..1, per saga and service: probability that its compensation fails with 500 every time. */
  compensationFailureRate: number
  /** Seed of every random decision, so a run can be replayed. */
  seed: number
}

export interface StartOptions extends Partial<Tunables> {
  /** Host to bind; loopback unless told otherwise. */
  host?: string
  /** Bind service i on basePort + i (order of SERVICE_NAMES); default: port 0, any free port. */
  basePort?: number
  /** Per-service overrides of the tunables, e.g. `{ payment: { compensationFailureRate: 1 } }`. */
  overrides?: Partial<Record<ServiceName, Partial<Tunables>>>
  /** Units of stock each catalog sku starts with (default 100 000). */
  initialStock?: number
  /** Balance each known customer starts with (default 1 000 000). */
  initialBalance?: number
}

/** Why a call ended the way it did, so logs and the checker need not guess from the status. */
export type CallResult =
  | 'applied' // the effect happened now
  | 'replayed' // the idempotency key was seen before; the stored response was returned
  | 'noop' // a compensation with nothing to undo
  | 'refused' // business failure, nothing done
  | 'unavailable' // transient 503 before doing anything
  | 'lost' // effect applied (or replayed), then answered 500 as if the response was lost
  | 'in-progress' // 425: the same key is being processed right now
  | 'compensation-failed' // 500 from the permanent compensation failure tunable
  | 'invalid' // malformed request

export interface CallRecord {
  service: ServiceName
  path: string
  sagaId: string
  step: string
  phase: Phase | string
  idempotencyKey: string
  attempt: number
  status: number
  result: CallResult
  at: string
  durationMs: number
}

/** One finished (or not) saga as the engine saw it, handed to the checker. */
export interface SagaOutcome {
  sagaId: string
  status: 'completed' | 'compensated' | string
  input: OrderInput | Record<string, unknown>
  /** What an operator did to it by hand (e.g. saga.skip): the services cannot be expected to agree. */
  operatorActions?: string[]
}

export interface ConsistencyCheck {
  check: string
  ok: boolean
  detail: string
}

export interface ConsistencyReport {
  ok: boolean
  checks: ConsistencyCheck[]
}
