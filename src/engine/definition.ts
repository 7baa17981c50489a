/**
 * Saga definition files (YAML or JSON; JSON is read as YAML so both get positions).
 *
 * Defaults — anything a file leaves out:
 *
 * | setting                      | default                                                        |
 * | ---------------------------- | -------------------------------------------------------------- |
 * | saga `timeout`               | none: the saga has no deadline                                 |
 * | step `timeout` (per call)    | 10s                                                            |
 * | step `retry`                 | maxAttempts 3, exponential, initialDelay 200ms, maxDelay 30s, jitter true (false for a fixed backoff) |
 * | step `compensationRetry`     | maxAttempts 5, exponential, initialDelay 1s, maxDelay 60s, jitter true    |
 * | step `onFailure`             | compensate                                                     |
 * | `http.method`                | POST (POST, PUT, PATCH or DELETE: the context is sent as a JSON body) |
 * | `http.body`                  | the saga input (sent only under `protocol: dtm`)               |
 * | step `protocol`              | sagactl (`dtm`: DTM's request shape and result rules, see executors/dtm.ts) |
 * | `http.headers`               | none                                                           |
 * | `module` `export`            | default                                                        |
 * | `compensationOrder`          | reverse step order; when given it must list every step that has a compensation |
 *
 * Precedence, field by field: the step's own value, then the file's `defaults`, then the
 * table above. A partial `retry: { maxAttempts: 5 }` keeps the other retry fields.
 * Durations are milliseconds or strings such as `200ms`, `10s`, `5m`, `1h`, `1d`, and bounded
 * (src/engine/limits.ts): a step timeout at most 24h, retry delays 7d, a saga timeout 365d.
 * An http URL is http:// or https://, or starts with a `${env:NAME}` reference.
 * A retry `maxDelay` that nobody set never cuts an `initialDelay` short: the cap rises to
 * the initial delay. Setting both with `initialDelay > maxDelay` is refused as a contradiction.
 * Unknown keys are errors: a misspelt `compensaton:` must not silently mean "none".
 */
import { createHash } from 'node:crypto'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml'
import { z } from 'zod'
import { formatDuration, parseDuration } from './duration.js'
import { bodyProblems } from './body-template.js'
import { malformedRef } from './env-ref.js'
import { MAX_CALL_TIMEOUT_MS, MAX_RETRY_DELAY_MS, MAX_SAGA_TIMEOUT_MS } from './limits.js'
import { modulePathProblem } from './module-path.js'
import { unstorableJson } from './storable.js'

export type Backoff = 'fixed' | 'linear' | 'exponential'
/** All durations in milliseconds. */
export interface RetryPolicy { maxAttempts: number; backoff: Backoff; initialDelay: number; maxDelay: number; jitter: boolean }
export type HttpProtocol = 'sagactl' | 'dtm'
/** `protocol` and `body` are present only under `protocol: dtm`, so other specs stay as they were. */
export interface HttpCall { http: { url: string; method: string; headers: Record<string, string>; protocol?: 'dtm'; body?: unknown } }
export interface ModuleCall { module: string; export: string }
export type Call = HttpCall | ModuleCall
export interface StepDef {
  name: string
  action: Call
  compensation?: Call
  timeout: number
  retry: RetryPolicy
  compensationRetry: RetryPolicy
  onFailure: 'compensate' | 'suspend'
  /** The participant both calls of this step count against, when named; else each call's own default name. */
  participant?: string
  /** Limits declared on the step itself, layered over the definition's `participants` entry. */
  limits?: ParticipantLimits
}
/** What a definition may declare about a participant; durations in ms. */
export interface ParticipantLimits {
  maxInFlight?: number
  rps?: number
  circuit?: CircuitPolicy
}
export interface CircuitPolicy { failures: number; within: number; cooldown: number }
export interface SagaDefinition {
  name: string
  description?: string
  timeout?: number
  steps: StepDef[]
  compensationOrder?: string[]
  participants?: Record<string, ParticipantLimits>
}
export interface Problem { file: string; line: number; col: number; message: string }

export const DEFAULTS = Object.freeze({
  callTimeout: 10_000,
  retry: Object.freeze<RetryPolicy>({ maxAttempts: 3, backoff: 'exponential', initialDelay: 200, maxDelay: 30_000, jitter: true }),
  compensationRetry: Object.freeze<RetryPolicy>({ maxAttempts: 5, backoff: 'exponential', initialDelay: 1000, maxDelay: 60_000, jitter: true }),
  onFailure: 'compensate' as const,
  httpMethod: 'POST',
  moduleExport: 'default',
})

// ---- schema: validates the file as written; normalise() below fills in defaults ----

const NAME = /^[a-z0-9][a-z0-9._-]*$/
const METHODS = ['POST', 'PUT', 'PATCH', 'DELETE']

const name = z.string().regex(NAME, { error: 'must match ^[a-z0-9][a-z0-9._-]*$ (lower-case letters, digits, ".", "_", "-")' })

const HOUR = 3_600_000
const limitText = (ms: number): string => (ms % (24 * HOUR) === 0 && ms > 24 * HOUR ? `${ms / (24 * HOUR)}d` : `${ms / HOUR}h`)

const duration = (min: number, max: number) =>
  z.union([z.number(), z.string()], { error: 'expected a duration: milliseconds or a string like 200ms, 10s, 5m, 1h' })
    .transform((v, ctx) => {
      try {
        const ms = parseDuration(v)
        if (ms > max) ctx.addIssue({ code: 'custom', message: `must be at most ${limitText(max)}` })
        else if (ms >= min) return ms
        else ctx.addIssue({ code: 'custom', message: `must be at least ${min}ms` })
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message })
      }
      return z.NEVER
    })

const refText = z.string().superRefine((v, ctx) => {
  const bad = malformedRef(v)
  if (bad) ctx.addIssue({ code: 'custom', message: `unsupported reference ${bad}: write \${env:NAME}` })
})

const retrySchema = z.strictObject({
  maxAttempts: z.int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1 (1 = no retries)' }).optional(),
  backoff: z.enum(['fixed', 'linear', 'exponential']).optional(),
  initialDelay: duration(0, MAX_RETRY_DELAY_MS).optional(),
  maxDelay: duration(0, MAX_RETRY_DELAY_MS).optional(),
  jitter: z.boolean().optional(),
})

const callSchema = z
  .strictObject({
    http: z
      .strictObject({
        // A URL starting with a reference is checked when it is resolved, at call time.
        url: refText.min(1, { error: 'must not be empty' }).refine((u) => u === '' || u.startsWith('${') || /^https?:\/\//i.test(u), {
          error: 'must be an http:// or https:// URL',
        }),
        method: z.string().refine((m) => METHODS.includes(m.toUpperCase()), {
          error: `must be one of ${METHODS.join(', ')} (the step context is sent as a JSON body)`,
        }).optional(),
        headers: z.record(z.string(), refText).optional(),
        body: z.unknown().superRefine((b, ctx) => {
          for (const p of bodyProblems(b)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message })
        }).optional(),
      })
      .optional(),
    module: z.string().min(1, { error: 'must not be empty' }).optional(),
    export: z.string().min(1, { error: 'must not be empty' }).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.http && c.module !== undefined) ctx.addIssue({ code: 'custom', path: ['module'], message: 'a call has either http or module, not both' })
    else if (!c.http && c.module === undefined) ctx.addIssue({ code: 'custom', message: 'a call needs http: { url } or module: <path>' })
    if (c.export !== undefined && c.module === undefined) ctx.addIssue({ code: 'custom', path: ['export'], message: 'export is only valid with module' })
    const outside = c.module === undefined ? null : modulePathProblem(c.module)
    if (outside) ctx.addIssue({ code: 'custom', path: ['module'], message: outside })
  })

const limitFields = {
  maxInFlight: z.int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).optional(),
  rps: z.number().positive({ error: 'must be a positive number of calls per second' }).optional(),
  circuit: z
    .strictObject({
      failures: z.int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }),
      within: duration(1, MAX_CALL_TIMEOUT_MS),
      cooldown: duration(1, MAX_RETRY_DELAY_MS),
    })
    .optional(),
}
const participantName = z.string().min(1, { error: 'must not be empty' })
const limitsSchema = z.strictObject(limitFields)
/** On a step: a name, or the limits (with an optional name) of the participant it calls. */
const stepParticipantSchema = z.union([participantName, z.strictObject({ name: participantName.optional(), ...limitFields })], {
  error: 'expected a participant name, or { name?, maxInFlight?, rps?, circuit? }',
})
const protocol = z.enum(['sagactl', 'dtm'])

const stepSchema = z
  .strictObject({
    name,
    participant: stepParticipantSchema.optional(),
    action: callSchema,
    compensation: callSchema.optional(),
    timeout: duration(1, MAX_CALL_TIMEOUT_MS).optional(),
    retry: retrySchema.optional(),
    compensationRetry: retrySchema.optional(),
    onFailure: z.enum(['compensate', 'suspend']).optional(),
    protocol: protocol.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.compensationRetry && !s.compensation) {
      ctx.addIssue({ code: 'custom', path: ['compensationRetry'], message: 'step has no compensation to retry' })
    }
    if (s.protocol === 'dtm' && !s.action.http && !s.compensation?.http) {
      ctx.addIssue({ code: 'custom', path: ['protocol'], message: 'protocol applies to http calls; this step has none' })
    }
  })

const fileSchema = z
  .strictObject({
    name,
    description: z.string().optional(),
    timeout: duration(1, MAX_SAGA_TIMEOUT_MS).optional(),
    defaults: z
      .strictObject({
        timeout: duration(1, MAX_CALL_TIMEOUT_MS).optional(),
        retry: retrySchema.optional(),
        compensationRetry: retrySchema.optional(),
        onFailure: z.enum(['compensate', 'suspend']).optional(),
        participant: participantName.optional(),
        protocol: protocol.optional(),
      })
      .optional(),
    participants: z.record(participantName, limitsSchema).optional(),
    steps: z.array(stepSchema).min(1, { error: 'a saga needs at least one step' }),
    compensationOrder: z.array(z.string()).optional(),
  })
  .superRefine((f, ctx) => {
    checkDelays(f, ctx)
    f.steps.forEach((s, i) => {
      if ((s.protocol ?? f.defaults?.protocol) === 'dtm') return
      for (const phase of ['action', 'compensation'] as const) {
        if (s[phase]?.http?.body === undefined) continue
        ctx.addIssue({ code: 'custom', path: ['steps', i, phase, 'http', 'body'], message: 'body is sent only under protocol: dtm (the sagactl protocol sends the step context)' })
      }
    })
    const first = new Map<string, number>()
    f.steps.forEach((s, i) => {
      const seen = first.get(s.name)
      if (seen === undefined) first.set(s.name, i)
      else ctx.addIssue({ code: 'custom', path: ['steps', i, 'name'], message: `duplicate step name "${s.name}" (also steps[${seen}])` })
    })
    if (!f.compensationOrder) return
    const listed = new Set<string>()
    f.compensationOrder.forEach((n, i) => {
      const idx = first.get(n)
      const path = ['compensationOrder', i]
      if (idx === undefined) ctx.addIssue({ code: 'custom', path, message: `unknown step "${n}"` })
      else if (!f.steps[idx]?.compensation) ctx.addIssue({ code: 'custom', path, message: `step "${n}" has no compensation` })
      else if (listed.has(n)) ctx.addIssue({ code: 'custom', path, message: `step "${n}" is listed twice` })
      listed.add(n)
    })
    // A compensable step left out would never be undone: refuse rather than guess.
    const missing = f.steps.filter((s) => s.compensation && !listed.has(s.name)).map((s) => s.name)
    if (missing.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['compensationOrder'], message: `must list every step with a compensation; missing: ${missing.join(', ')}` })
    }
  })

type RetryShape = z.output<typeof retrySchema>

/** initialDelay > maxDelay is a contradiction only when maxDelay was written down. */
function checkDelays(f: { defaults?: { retry?: RetryShape; compensationRetry?: RetryShape }; steps: Array<{ retry?: RetryShape; compensationRetry?: RetryShape }> }, ctx: z.RefinementCtx): void {
  for (const field of ['retry', 'compensationRetry'] as const) {
    const base = DEFAULTS[field]
    const layers: Array<{ path: (string | number)[]; own?: RetryShape; under?: RetryShape }> = [
      { path: ['defaults', field], own: f.defaults?.[field] },
      ...f.steps.map((s, i) => ({ path: ['steps', i, field], own: s[field], under: f.defaults?.[field] })),
    ]
    for (const { path, own, under } of layers) {
      if (own?.initialDelay === undefined && own?.maxDelay === undefined) continue
      const initial = own.initialDelay ?? under?.initialDelay ?? base.initialDelay
      const max = own.maxDelay ?? under?.maxDelay
      if (max !== undefined && initial > max) {
        ctx.addIssue({ code: 'custom', path: [...path, own.initialDelay !== undefined ? 'initialDelay' : 'maxDelay'], message: `initialDelay ${formatDuration(initial)} is longer than maxDelay ${formatDuration(max)}; raise maxDelay or leave it out` })
      }
    }
  }
}

type FileShape = z.output<typeof fileSchema>
type CallShape = z.output<typeof callSchema>

// ---- normalisation ----

const mergeRetry = (base: RetryPolicy, ...layers: (RetryShape | undefined)[]): RetryPolicy => {
  const out: RetryPolicy = { ...base }
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer ?? {})) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v
  }
  // The default cap must not shorten a delay the file asked for (checkDelays refuses an explicit one).
  if (out.initialDelay > out.maxDelay) out.maxDelay = out.initialDelay
  // A fixed delay means the delay written; jitter on it only when asked for.
  if (out.backoff === 'fixed' && layers.every((l) => l?.jitter === undefined)) out.jitter = false
  return out
}

const normaliseCall = (c: CallShape, protocol: HttpProtocol): Call =>
  c.http
    ? {
        http: {
          url: c.http.url,
          method: (c.http.method ?? DEFAULTS.httpMethod).toUpperCase(),
          headers: { ...c.http.headers },
          ...(protocol === 'dtm' ? { protocol } : {}),
          ...(c.http.body !== undefined ? { body: c.http.body } : {}),
        },
      }
    : { module: c.module as string, export: c.export ?? DEFAULTS.moduleExport }

type StepParticipantShape = z.output<typeof stepParticipantSchema>

function stepParticipant(p: StepParticipantShape | undefined, fallback: string | undefined): Pick<StepDef, 'participant' | 'limits'> {
  if (p === undefined) return fallback === undefined ? {} : { participant: fallback }
  if (typeof p === 'string') return { participant: p }
  const { name: n, ...limits } = p
  const named = n ?? fallback
  return { ...(named === undefined ? {} : { participant: named }), ...(Object.keys(limits).length > 0 ? { limits } : {}) }
}

function normalise(f: FileShape): SagaDefinition {
  const d = f.defaults ?? {}
  const steps = f.steps.map((s): StepDef => ({
    ...stepParticipant(s.participant, d.participant),
    name: s.name,
    action: normaliseCall(s.action, s.protocol ?? d.protocol ?? 'sagactl'),
    ...(s.compensation ? { compensation: normaliseCall(s.compensation, s.protocol ?? d.protocol ?? 'sagactl') } : {}),
    timeout: s.timeout ?? d.timeout ?? DEFAULTS.callTimeout,
    retry: mergeRetry(DEFAULTS.retry, d.retry, s.retry),
    compensationRetry: mergeRetry(DEFAULTS.compensationRetry, d.compensationRetry, s.compensationRetry),
    onFailure: s.onFailure ?? d.onFailure ?? DEFAULTS.onFailure,
  }))
  return {
    name: f.name,
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.timeout !== undefined ? { timeout: f.timeout } : {}),
    steps,
    ...(f.compensationOrder ? { compensationOrder: [...f.compensationOrder] } : {}),
    ...(f.participants ? { participants: { ...f.participants } } : {}),
  }
}

// ---- positions ----

const start = (node: unknown): number | undefined =>
  (node as { range?: [number, number, number] } | null)?.range?.[0]

/** Offset of the node at `path`, or of its deepest existing ancestor; `found` says which. */
function locate(doc: Document, path: readonly PropertyKey[], key?: string): { offset: number; found: boolean } {
  let node: unknown = doc.contents
  let offset = start(node) ?? 0
  for (const seg of path) {
    let next: unknown
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg)
      if (!pair) return { offset, found: false }
      next = pair.value ?? pair.key
      // `key:` with nothing after it: point at the key, the value has no useful position
      offset = (isScalar(pair.value) && pair.value.value === null ? start(pair.key) : start(pair.value)) ?? start(pair.key) ?? offset
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      next = node.items[seg]
      offset = start(next) ?? offset
    } else {
      return { offset, found: false }
    }
    node = next
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key)
    offset = start(pair?.key) ?? offset
  }
  return { offset, found: true }
}

const pathText = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${String(seg)}` : String(seg)), '')

// ---- entry points ----

export function parseDefinition(text: string, file: string): { definition?: SagaDefinition; source: unknown; problems: Problem[] } {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false })
  const at = (offset: number, message: string): Problem => ({ file, ...lineCounter.linePos(offset), message })

  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => at(e.pos[0], (e.message.split('\n')[0] ?? e.message).trim()))
    return { source: undefined, problems }
  }
  const nul = text.indexOf('\u0000')
  if (nul !== -1) return { source: undefined, problems: [at(nul, 'contains a NUL character, which PostgreSQL cannot store')] }
  let source: unknown
  try {
    // yaml refuses aliases that expand past its limit (a "billion laughs" document).
    source = doc.toJS()
  } catch (err) {
    let offset = 0
    visit(doc, { Alias: (_, node) => ((offset = node.range?.[0] ?? 0), visit.BREAK) })
    return { source: undefined, problems: [at(offset, (err as Error).message.split('\n')[0] ?? 'cannot read the document')] }
  }
  if (source === null || source === undefined) return { source, problems: [at(0, 'empty definition: expected name and steps')] }
  const unstorable = unstorableJson(source)
  if (unstorable) {
    let offset = 0
    visit(doc, { Scalar: (_, node) => (typeof node.value === 'string' && node.value.includes('\u0000') ? ((offset = node.range?.[0] ?? 0), visit.BREAK) : undefined) })
    return { source, problems: [at(offset, `the definition ${unstorable}`)] }
  }

  const result = fileSchema.safeParse(source)
  if (result.success) return { definition: normalise(result.data), source, problems: [] }

  const problems: Problem[] = []
  for (const issue of result.error.issues) {
    const where = pathText(issue.path)
    const prefix = where ? `${where}: ` : ''
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push(at(locate(doc, issue.path, key).offset, `${prefix}unknown key "${key}"`))
      }
      continue
    }
    const { offset, found } = locate(doc, issue.path)
    const missing = !found && issue.code === 'invalid_type'
    const message =
      missing ? `${where} is required`
      : issue.path.length === 0 && issue.code === 'invalid_type' ? 'a definition must be a mapping with name and steps'
      : `${prefix}${issue.message}`
    problems.push(at(offset, message))
  }
  problems.sort((a, b) => a.line - b.line || a.col - b.col)
  return { source, problems }
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k])
    return out
  }
  return value
}

/** Same content, same checksum: key order, formatting, comments and YAML-vs-JSON do not count. */
export function definitionChecksum(source: unknown): string {
  return createHash('sha256').update(JSON.stringify(canonical(source)) ?? 'null').digest('hex')
}
