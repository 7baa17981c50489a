// Every outcome passes through here before the engine sees it, so whatever a
// participant answered can be stored and shown: resolved secrets are replaced by ***,
// NUL bytes and lone surrogates (which PostgreSQL's text and jsonb refuse) by U+FFFD,
// error text is bounded, and an output too large or too deeply nested becomes a failed
// call instead of a write that can never succeed.
import { MAX_ERROR_CHARS, MAX_OUTPUT_BYTES } from '../limits.js'
import { storableJsonText } from '../storable.js'
import type { CallOutcome } from './types.js'

export type Scrub = (text: string) => string

const noScrub: Scrub = (text) => text

/** Shorter values are too likely to occur by chance in unrelated text to be replaced. */
const MIN_SECRET = 4

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Replaces each secret, raw or in the encodings a URL or a form gives it, whatever its case. */
export function scrubberFor(secrets: string[]): Scrub {
  const forms = new Set<string>()
  for (const s of secrets) {
    if (s.length < MIN_SECRET) continue
    const component = encodeURIComponent(s)
    for (const f of [s, component, component.replace(/%20/g, '+'), encodeURI(s)]) forms.add(f)
  }
  if (forms.size === 0) return noScrub
  const pattern = new RegExp([...forms].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'gi')
  return (text) => text.replace(pattern, '***')
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** Text PostgreSQL accepts in text and jsonb columns. */
export function storableText(text: string): string {
  return text.replace(/\u0000/g, '\uFFFD').replace(LONE_SURROGATE, '\uFFFD')
}

export function boundedError(text: string): string {
  return text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS - 1)}…`
}

function cleanJson(value: unknown, fix: (s: string) => string): unknown {
  if (typeof value === 'string') return fix(value)
  if (Array.isArray(value)) return value.map((v) => cleanJson(v, fix))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[fix(k)] = cleanJson(v, fix)
    return out
  }
  return value
}

/** JSON.stringify writes NUL and lone surrogates as these escapes: their absence means nothing to clean. */
const UNSTORABLE_ESCAPE = /\\u0000|\\ud[89a-f]/i

export function guardOutcome(outcome: CallOutcome, scrub: Scrub): CallOutcome {
  const fix = (s: string) => storableText(scrub(s))
  if (outcome.kind === 'success') {
    const { why, json } = storableJsonText(outcome.output, MAX_OUTPUT_BYTES)
    if (why !== null) return { kind: 'transient', error: `output ${why}: not stored` }
    if (scrub === noScrub && !UNSTORABLE_ESCAPE.test(json)) return outcome
    return { kind: 'success', output: cleanJson(outcome.output, fix) }
  }
  return { ...outcome, error: boundedError(fix(outcome.error)) }
}
