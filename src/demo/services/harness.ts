// The part every demo service shares: the http step protocol, idempotency, the call log
// and the tunable misbehaviour. A service only describes its routes and its state; this
// file decides *when* a route runs, so the failure modes are the same for all six.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { roll } from './rng.js'
import type { CallRecord, CallResult, Outcome, Phase, ServiceName, StepRequest, Tunables } from './types.js'

/** What a route answers, plus `noop` when a compensation found nothing to undo. */
export interface Handled extends Outcome {
  noop?: boolean
}

export interface Route {
  phase: Phase
  /** Actions that can refuse for business reasons say how; failureRate picks when. */
  refuse?: (req: StepRequest) => Outcome
  handle: (req: StepRequest) => Handled
}

export interface ServiceDefinition {
  name: ServiceName
  routes: Record<string, Route>
  snapshot: () => unknown
}

const MAX_BODY_BYTES = 1 << 20

export function createServiceServer(
  service: ServiceDefinition,
  calls: CallRecord[],
  tunables: () => Tunables,
): Server {
  // Stored first responses, by path and key: a replay must not run the route again.
  const stored = new Map<string, Outcome>()
  // Keys being processed now: a concurrent duplicate gets 425 instead of a second effect.
  const inFlight = new Set<string>()
  // How many times each key was seen, so flaky decisions differ per try yet stay replayable.
  const seen = new Map<string, number>()
  // Sagas whose compensation ran here: a late action for them must not apply (hanging action).
  const compensated = new Set<string>()

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now()
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const route = service.routes[path]
    if (!route) return send(res, 404, { error: 'not_found', message: `no route ${path}` })
    if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' }, { Allow: 'POST' })

    const key = headerValue(req.headers['idempotency-key'])
    const parsed = parseStepRequest(await readBody(req))
    const body = typeof parsed === 'string' ? undefined : parsed
    const log = (status: number, result: CallResult): void => {
      calls.push({
        service: service.name,
        path,
        sagaId: body?.sagaId ?? '',
        step: body?.step ?? '',
        phase: body?.phase ?? '',
        idempotencyKey: key ?? '',
        attempt: body?.attempt ?? 0,
        status,
        result,
        at: new Date(started).toISOString(),
        durationMs: Date.now() - started,
      })
    }
    // 422, not 400: the protocol reads 409/422 as "did nothing, do not retry", which is true.
    if (!body || !key) {
      const message = !body ? (parsed as string) : 'missing Idempotency-Key header'
      log(422, 'invalid')
      return send(res, 422, { error: 'invalid_request', message })
    }

    const t = tunables()
    const slot = `${path} ${key}`
    const nth = (seen.get(slot) ?? 0) + 1
    seen.set(slot, nth)
    if (inFlight.has(slot)) {
      log(425, 'in-progress')
      return send(res, 425, { error: 'in_progress', message: `${key} is being processed` })
    }

    inFlight.add(slot)
    try {
      if (t.latency > 0) await sleep(t.latency * (0.5 + roll(t.seed, 'latency', service.name, slot, nth)))
      const flaky = roll(t.seed, 'flaky', service.name, slot, nth) < t.flakyRate
      const lose = flaky && roll(t.seed, 'flaky-kind', service.name, slot, nth) < 0.5
      if (flaky && !lose) {
        log(503, 'unavailable')
        return send(res, 503, { error: 'unavailable', message: 'try again' }, { 'Retry-After': '0' })
      }

      // Everything below is synchronous up to send(): no other call can slip in between
      // looking up the key and storing the response.
      const { outcome, result } = decide(route, body, slot, t)
      if (lose) {
        log(500, 'lost')
        return send(res, 500, { error: 'internal', message: 'response lost after the effect' })
      }
      log(outcome.status, result)
      return send(res, outcome.status, outcome.body, result === 'replayed' ? { 'Idempotent-Replayed': 'true' } : {})
    } finally {
      inFlight.delete(slot)
    }
  }

  function decide(route: Route, req: StepRequest, slot: string, t: Tunables): { outcome: Outcome; result: CallResult } {
    const first = stored.get(slot)
    if (first) return { outcome: first, result: 'replayed' }

    if (route.phase === 'compensation') {
      // Decided per saga, not per call: the service is broken *for this saga*, so retries
      // are exhausted and the saga lands in the intervention queue.
      if (roll(t.seed, 'compensation-failure', service.name, req.sagaId) < t.compensationFailureRate) {
        return { outcome: { status: 500, body: { error: 'compensation_failed', message: 'cannot undo right now' } }, result: 'compensation-failed' }
      }
      const handled = route.handle(req)
      const outcome = { status: handled.status, body: handled.body }
      if (isFinal(outcome.status)) stored.set(slot, outcome)
      if (isSuccess(outcome.status)) compensated.add(req.sagaId)
      return { outcome, result: isSuccess(outcome.status) ? (handled.noop ? 'noop' : 'applied') : 'refused' }
    }

    let outcome: Outcome
    if (compensated.has(req.sagaId)) {
      outcome = { status: 409, body: { error: 'already_compensated', message: `saga ${req.sagaId} was already rolled back here` } }
    } else if (route.refuse && roll(t.seed, 'business-failure', service.name, req.sagaId) < t.failureRate) {
      outcome = route.refuse(req)
    } else {
      const handled = route.handle(req)
      outcome = { status: handled.status, body: handled.body }
    }
    if (isFinal(outcome.status)) stored.set(slot, outcome)
    return { outcome, result: isSuccess(outcome.status) ? 'applied' : 'refused' }
  }

  const server = createServer((req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: 'internal', message: String(err) })
    })
  })
  server.keepAliveTimeout = 5_000
  return server
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300
}

/** Responses worth replaying: success and business failure. Transient ones must not stick. */
function isFinal(status: number): boolean {
  return isSuccess(status) || status === 409 || status === 422
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body ?? null)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return v && v.length > 0 ? v : undefined
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new Error('request body too large')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The request body, or a message saying what is wrong with it. */
function parseStepRequest(text: string): StepRequest | string {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return 'body is not JSON'
  }
  if (!isRecord(raw)) return 'body must be a JSON object'
  const { sagaId, step, phase, attempt, input, results } = raw
  if (typeof sagaId !== 'string' || sagaId === '') return 'sagaId must be a non-empty string'
  if (typeof step !== 'string' || step === '') return 'step must be a non-empty string'
  if (phase !== 'action' && phase !== 'compensation') return 'phase must be "action" or "compensation"'
  return {
    sagaId,
    step,
    phase,
    attempt: typeof attempt === 'number' ? attempt : 0,
    input: isRecord(input) ? input : {},
    results: isRecord(results) ? results : {},
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function ok(body: unknown): Handled {
  return { status: 200, body }
}

export function refused(status: 409 | 422, error: string, message: string): Handled {
  return { status, body: { error, message } }
}

export function noop(reason: string): Handled {
  return { status: 200, body: { noop: true, reason }, noop: true }
}
