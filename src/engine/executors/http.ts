// The http executor speaks the result protocol DTM's services use (SPEC.md §2):
//   2xx            success, the body (JSON if it parses, else text, empty = null) is the output
//   409, 422       business failure: the service did nothing; not retried
//   425            pending: still in progress, ask again without using up an attempt
//   408, 429, 5xx  transient: retried per policy, Retry-After honoured
//   other 4xx/3xx  business: the service rejected the request itself (bad route, auth,
//                  malformed body), and sending the identical request again cannot
//                  change that; burning the retry budget would only delay compensation.
//                  Redirects are never followed: a Location elsewhere would receive the
//                  step's headers (secrets included) and its body.
// Bodies are read only up to a limit: a 2xx body over MAX_OUTPUT_BYTES is a failed call.
// Network errors and timeouts are transient: the outcome is unknown, so the step counts
// as attempted and will be compensated if the saga rolls back.
// Secrets resolved from ${env:...} are scrubbed from the outcome by executeCall.
import type { HttpCall } from '../definition.js'
import { formatDuration } from '../duration.js'
import { resolveCallEnv } from '../env-ref.js'
import { formatBytes, MAX_OUTPUT_BYTES } from '../limits.js'
import { callSignal, errorText, idempotencyKey, type CallOutcome, type ExecOptions, type HttpProtocolShape, type StepContext } from './types.js'

const SNIPPET = 200
/** An error body is only shown as a snippet: reading more is wasted memory. */
const ERROR_BODY_BYTES = 16 * 1024

/** `protocol` replaces sagactl's request body and result rules (DTM's, in dtm.ts). */
export async function executeHttp(call: HttpCall, ctx: StepContext, opts: ExecOptions, protocol?: HttpProtocolShape): Promise<CallOutcome> {
  const env = opts.env ?? process.env
  let resolved: HttpCall
  try {
    resolved = resolveCallEnv(call, env)
  } catch (err) {
    // An unset variable stays unset on every retry of this worker: fail now, not after the retries.
    return { kind: 'business', error: errorText(err) }
  }
  const transient = (error: string, retryAfterMs?: number): CallOutcome =>
    retryAfterMs === undefined ? { kind: 'transient', error } : { kind: 'transient', error, retryAfterMs }

  let url: URL
  try {
    url = new URL(resolved.http.url)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http')
  } catch {
    // The template is safe to show; the resolved URL may embed a secret.
    return transient(`invalid http(s) URL: ${call.http.url}`)
  }

  const headers = new Headers()
  for (const [name, value] of Object.entries(resolved.http.headers)) {
    try {
      headers.set(name, value)
    } catch {
      // Headers' own message quotes the value.
      return transient(`invalid header "${name}": name or value contains characters HTTP does not allow`)
    }
  }
  headers.set('content-type', 'application/json')
  headers.set('idempotency-key', idempotencyKey(ctx))
  if (!headers.has('accept')) headers.set('accept', 'application/json, text/plain;q=0.9, */*;q=0.8')

  const { sagaId, step, phase, attempt, input, results } = ctx
  let payload = JSON.stringify({ sagaId, step, phase, attempt, input, results })
  if (protocol) {
    const req = protocol.request(call, ctx)
    if ('kind' in req) return req
    payload = req.body
    for (const [k, v] of Object.entries(req.query)) url.searchParams.set(k, v)
  }
  const signal = callSignal(opts.timeoutMs, opts.signal)
  let status: number
  let body: { text: string; over: boolean }
  let retryAfterHeader: string | null
  let location: string | null
  try {
    const res = await fetch(url, {
      method: resolved.http.method,
      headers,
      body: payload,
      signal,
      redirect: 'manual',
    })
    status = res.status
    retryAfterHeader = res.headers.get('retry-after')
    location = res.headers.get('location')
    // still under the timeout: a body that never ends is a timeout too
    body = await readBounded(res, status >= 200 && status < 300 ? MAX_OUTPUT_BYTES : ERROR_BODY_BYTES)
  } catch (err) {
    if (opts.signal?.aborted) return transient('aborted by the worker before a response arrived (outcome unknown)')
    if (signal.aborted) return transient(`timeout after ${formatDuration(opts.timeoutMs)}`)
    const text = networkError(err)
    // fetch refuses ports browsers block (1, 22, 25, 6000...) with a bare "bad port"
    return transient(text === 'bad port' ? `fetch refuses port ${url.port} (blocked port list); use another port` : text)
  }

  const ok = status >= 200 && status < 300
  if (ok && body.over) return transient(`response body is larger than ${formatBytes(MAX_OUTPUT_BYTES)}: not stored`)
  if (status >= 300 && status < 400 && location) return { kind: 'business', error: `HTTP ${status} redirect to ${location.slice(0, SNIPPET)} (not followed)` }
  const text = body.text
  const snippet = text.trim().slice(0, SNIPPET)
  const error = `HTTP ${status}${snippet ? `: ${snippet}` : ''}`
  const retryAfterMs = parseRetryAfter(retryAfterHeader)
  if (protocol) return protocol.classify(retryAfterMs === undefined ? { status, text, error } : { status, text, error, retryAfterMs }, ctx)
  if (ok) return { kind: 'success', output: parseBody(text) }
  if (status === 425) return retryAfterMs === undefined ? { kind: 'pending', error } : { kind: 'pending', error, retryAfterMs }
  if (status === 408 || status === 429 || status >= 500) return transient(error, retryAfterMs)
  return { kind: 'business', error }
}

/** The body up to `limit` bytes; `over` when there was more (the rest is never read). */
async function readBounded(res: Response, limit: number): Promise<{ text: string; over: boolean }> {
  if (!res.body) return { text: '', over: false }
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      return { text: decode(chunks, limit), over: true }
    }
  }
  return { text: decode(chunks, size), over: false }
}

function decode(chunks: Uint8Array[], bytes: number): string {
  return Buffer.concat(chunks).subarray(0, bytes).toString('utf8')
}

export function parseBody(text: string): unknown {
  if (text.trim() === '') return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

// undici reports "fetch failed" and hides the useful part in `cause`
// (`connect ECONNREFUSED 127.0.0.1:7001`, `getaddrinfo ENOTFOUND host`, ...).
function networkError(err: unknown): string {
  let cause: unknown = err
  while (cause instanceof Error && cause.message === 'fetch failed' && cause.cause !== undefined) cause = cause.cause
  if (cause instanceof AggregateError) {
    const inner = cause.errors.map((e: unknown) => errorText(e)).filter(Boolean)
    if (inner.length > 0) return inner.join('; ')
  }
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code
    return cause.message || code || cause.name
  }
  return errorText(cause)
}
