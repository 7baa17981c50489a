import type { Call, HttpCall } from '../definition.js'

export type Phase = 'action' | 'compensation'

/** What a step's action or compensation is told: the http body, and a module's argument. */
export interface StepContext {
  sagaId: string
  step: string
  phase: Phase
  attempt: number
  input: unknown
  /** Outputs of earlier steps, by step name. */
  results: Record<string, unknown>
  /** Times an operator sent this step round again (`saga retry --from-step`); 0 or absent on the first run. */
  rerun?: number
  /** The step's 0-based position in its definition (DTM's branch id is built from it). */
  index?: number
}

/** The single argument a module export receives. */
export interface ModuleStepContext extends StepContext {
  idempotencyKey: string
  /** Aborted on the call timeout or when the worker shuts down. */
  signal: AbortSignal
}

export type CallOutcome =
  /** The step did its work; `output` is stored and passed to later steps in `results`. */
  | { kind: 'success'; output: unknown }
  /**
   * 409/422/other 4xx, SagaAbort: the service did nothing and never will; not retried.
   * `compensate`: the service refused but may have done part of the work (DTM's FAILURE),
   * so the step's own compensation runs too.
   */
  | { kind: 'business'; error: string; compensate?: boolean }
  /** 425: still in progress; asked again later without using up an attempt. */
  | { kind: 'pending'; error: string; retryAfterMs?: number }
  /** 408, 429, 5xx, network errors, timeouts: outcome unknown, retried per policy. */
  | { kind: 'transient'; error: string; retryAfterMs?: number }

export interface ExecOptions {
  timeoutMs: number
  /** Base directory for relative `module` paths (the worker's --defs). */
  defsDir: string
  env?: NodeJS.ProcessEnv
  /** The worker's shutdown signal. */
  signal?: AbortSignal
}

/**
 * A request and result shape other than sagactl's own for http calls (DTM's): what is
 * sent, and what an answer means. Everything else (URL checks, headers, secrets,
 * timeouts, network errors) stays with the http executor.
 */
export interface HttpProtocolShape {
  /** The raw body and extra query parameters, or an outcome when no request can be built. */
  request(call: HttpCall, ctx: StepContext): { body: string; query: Record<string, string> } | CallOutcome
  /** `error` is the scrubbed `HTTP <status>: <snippet>` text; `retryAfterMs` the parsed Retry-After. */
  classify(answer: { status: number; text: string; error: string; retryAfterMs?: number }, ctx: StepContext): CallOutcome
}

export type Executor<C extends Call = Call> = (call: C, ctx: StepContext, opts: ExecOptions) => Promise<CallOutcome>

/**
 * Thrown by a module step to say "this will never succeed, compensate now".
 * Modules loaded from another copy of sagactl get a different class, so the executor
 * also recognises `name === 'SagaAbort'` and `retryable === false`.
 */
export class SagaAbort extends Error {
  readonly retryable = false
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SagaAbort'
  }
}

/**
 * The same on every attempt, so an idempotent service applies the effect once. A rerun
 * ordered by an operator is a new request on purpose: its key ends in `:rerun-<n>`.
 */
export function idempotencyKey(ctx: Pick<StepContext, 'sagaId' | 'step' | 'phase' | 'rerun'>): string {
  return `${ctx.sagaId}:${ctx.step}:${ctx.phase}${ctx.rerun ? `:rerun-${ctx.rerun}` : ''}`
}

/** A signal that fires on the call timeout or the caller's signal, whichever is first. */
export function callSignal(timeoutMs: number, outer?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs)
  return outer ? AbortSignal.any([timeout, outer]) : timeout
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name
  return String(err)
}
