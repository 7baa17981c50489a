import { UsageError } from '../errors.js'

/**
 * Finding a saga by what the business knows: its start key, its tags, or a value in its
 * input. Pure parsing and validation, shared by the CLI flags, the console's filter bar
 * and (through the engine) any other front end.
 */

/** One `input.a.b=v` condition: the input must hold `value` at `path`. */
export interface InputMatch {
  path: string[]
  value: unknown
}

export interface SagaSearch {
  /** The start (idempotency) key. */
  key?: string
  /** Every tag must match. */
  tags?: Record<string, string>
  /** Every condition must match. */
  where?: InputMatch[]
}

const TAG_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,62}$/
const MAX_TAG_VALUE = 256
const MAX_TAGS = 32

/** Checks tags given to a start (any front end): plain keys, string values, bounded sizes. */
export function validateTags(tags: unknown): Record<string, string> {
  if (tags === undefined || tags === null) return {}
  if (typeof tags !== 'object' || Array.isArray(tags)) throw new UsageError('tags must be an object of string values')
  const out: Record<string, string> = {}
  const entries = Object.entries(tags as Record<string, unknown>)
  if (entries.length > MAX_TAGS) throw new UsageError(`at most ${MAX_TAGS} tags per saga, got ${entries.length}`)
  for (const [k, v] of entries) {
    if (!TAG_KEY.test(k)) throw new UsageError(`invalid tag key "${k}": letters, digits and _ . : / - (at most 63, starting with a letter or digit)`)
    if (typeof v !== 'string') throw new UsageError(`tag "${k}" must be a string, got ${v === null ? 'null' : typeof v}`)
    // Tags are printed in tables and the console: no control characters (escape sequences).
    if (/[\u0000-\u001f\u007f-\u009f]/.test(v)) throw new UsageError(`tag "${k}" contains control characters`)
    if (v.length > MAX_TAG_VALUE) throw new UsageError(`tag "${k}" is longer than ${MAX_TAG_VALUE} characters`)
    out[k] = v
  }
  return out
}

/** `region=eu` -> ["region", "eu"]. */
export function parseTagText(text: string): [string, string] {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new UsageError(`invalid tag "${text}": expected key=value, e.g. region=eu`)
  const key = text.slice(0, eq).trim()
  const tags = validateTags({ [key]: text.slice(eq + 1) })
  return [key, tags[key]!]
}

/** Repeated `k=v` texts as one tag object; the same key twice is a usage error. */
export function tagsFromTexts(texts: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const t of texts) {
    const [k, v] = parseTagText(t)
    if (k in out && out[k] !== v) throw new UsageError(`tag "${k}" given twice with different values`)
    out[k] = v
  }
  return validateTags(out)
}

const SEGMENT = /^[A-Za-z0-9_$@-]+$/

/**
 * `input.customer.id=42` -> {path: [customer, id], value: 42}. The value is JSON when it
 * parses as JSON (42, true, "42", {"a":1}), else the text itself.
 */
export function parseWhere(text: string): InputMatch {
  const eq = text.indexOf('=')
  const hint = "expected input.<path>=<value>, e.g. input.customer.id=42"
  if (eq <= 0) throw new UsageError(`invalid condition "${text}": ${hint}`)
  const segments = text.slice(0, eq).trim().split('.')
  if (segments[0] !== 'input' || segments.length < 2) throw new UsageError(`invalid condition "${text}": the path starts at input, ${hint}`)
  const path = segments.slice(1)
  const bad = path.find((s) => !SEGMENT.test(s))
  if (bad !== undefined) throw new UsageError(`invalid condition "${text}": path part "${bad}" may hold only letters, digits and _ $ @ -`)
  const raw = text.slice(eq + 1)
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    // plain text
  }
  return { path, value }
}

/**
 * The containment documents one condition is served by: `{customer: {id: 42}}`. A bare
 * number or boolean also matches its text form (`42` finds `"42"`), since an operator
 * copying an id from a ticket rarely knows how the service typed it; quote it to match
 * the string only.
 */
export function containmentDocs(m: InputMatch): unknown[] {
  const wrap = (v: unknown) => m.path.reduceRight<unknown>((acc, seg) => ({ [seg]: acc }), v)
  const docs = [wrap(m.value)]
  if (typeof m.value === 'number' || typeof m.value === 'boolean') docs.push(wrap(String(m.value)))
  return docs
}

/** True when the search narrows nothing. */
export function isSearchEmpty(s: SagaSearch): boolean {
  return s.key === undefined && (!s.tags || Object.keys(s.tags).length === 0) && (!s.where || s.where.length === 0)
}

/**
 * The console's `/` text: `key:order-1042`, `tag:region=eu` and `input.a.b=42` tokens
 * become a search; the remaining words stay a free-text filter. A malformed token is
 * kept as text, so typing never fails halfway.
 */
export function parseSearchText(text: string): { search: SagaSearch; text: string } {
  const search: SagaSearch = {}
  const rest: string[] = []
  for (const token of text.split(/\s+/).filter(Boolean)) {
    try {
      if (token.startsWith('key:') && token.length > 4) search.key = token.slice(4)
      else if (token.startsWith('tag:')) search.tags = { ...search.tags, ...Object.fromEntries([parseTagText(token.slice(4))]) }
      else if (token.startsWith('input.') && token.includes('=')) search.where = [...(search.where ?? []), parseWhere(token)]
      else rest.push(token)
    } catch {
      rest.push(token)
    }
  }
  return { search, text: rest.join(' ') }
}
