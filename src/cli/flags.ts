import { Flags } from '@oclif/core'
import type { SagaFilter } from '../db/queries/sagas.js'
import { parseDuration } from '../engine/duration.js'
import { parseWhere, tagsFromTexts } from '../engine/search.js'
import { SAGA_STATUSES, type SagaStatus } from '../engine/types.js'

/** A bad value is a usage error: oclif maps an error carrying `oclif.exit` to one (exit 2). */
function usage(message: string): Error {
  return Object.assign(new Error(message), { oclif: { exit: 2 } })
}

/** The longest duration a flag takes: past it a date computed from it would not exist. */
export const MAX_FLAG_DURATION_MS = 100 * 365 * 86_400_000

function parseFlagDuration(input: string, opts: { unit?: boolean } = {}): number {
  if (opts.unit && /^\s*\d+(?:\.\d+)?\s*$/.test(input)) {
    throw usage(`"${input}" needs a unit: this flag takes a period such as ${input.trim()}h or ${input.trim()}d (a bare number would be milliseconds)`)
  }
  let ms: number
  try {
    ms = parseDuration(input)
  } catch (err) {
    throw usage((err as Error).message)
  }
  if (ms > MAX_FLAG_DURATION_MS) throw usage(`duration "${input}" is too long: at most 36500d`)
  return ms
}

/** A duration flag (`90s`, `10m`, `1h`, `1d`, or milliseconds), parsed to milliseconds, at most 100 years. */
export const durationFlag = Flags.custom<number>({ parse: async (input) => parseFlagDuration(input) })

/**
 * A period to look back over or to keep (`--since`, `--older-than`, `--stuck-after`):
 * these are hours and days, so a bare number, which would be milliseconds, is refused
 * rather than read as "30 ms" when "30 days" was meant.
 */
export const periodFlag = Flags.custom<number>({ parse: async (input) => parseFlagDuration(input, { unit: true }) })

export const MAX_LIMIT = 1000

/**
 * The saga selection shared by `saga list` and the bulk operator commands (retry,
 * compensate, abort by filter): one definition, so every command selects the same way.
 */
export const sagaFilterFlags = {
  status: Flags.string({
    summary: 'Only these statuses (repeat the flag or separate with commas).',
    options: [...SAGA_STATUSES],
    multiple: true,
    delimiter: ',',
    helpGroup: 'FILTER',
  }),
  def: Flags.string({ summary: 'Only sagas of this definition.', helpGroup: 'FILTER' }),
  version: Flags.integer({ summary: 'Only this version of the definition (with --def).', min: 1, dependsOn: ['def'], helpGroup: 'FILTER' }),
  since: periodFlag({ summary: 'Only sagas created in this last period, e.g. 1h or 2d.', helpGroup: 'FILTER' }),
  stuck: Flags.boolean({
    summary: 'Only stuck sagas: running or compensating with no progress, or pending and not picked up, for --stuck-after.',
    helpGroup: 'FILTER',
  }),
  'stuck-after': periodFlag({ summary: 'How long without progress counts as stuck.', default: 600_000, defaultHelp: async () => '10m', helpGroup: 'FILTER' }),
  failing: Flags.boolean({ summary: 'Only sagas still running or compensating whose latest call failed (retrying).', helpGroup: 'FILTER' }),
  error: Flags.string({ summary: 'Only sagas whose last error or reason contains this text (case-insensitive).', helpGroup: 'FILTER' }),
  key: Flags.string({ summary: 'Only the saga started with this key (--key of saga start).', helpGroup: 'FILTER' }),
  tag: Flags.string({ summary: 'Only sagas with this tag, as key=value (repeatable: all must match).', multiple: true, helpGroup: 'FILTER' }),
  where: Flags.string({
    summary: 'Only sagas whose input holds this value, as input.<path>=<value>, e.g. input.customer.id=42 (repeatable: all must match).',
    multiple: true,
    helpGroup: 'FILTER',
  }),
}

/** `saga start` and `saga run`: the labels a new saga carries. */
export const startTagFlag = {
  tag: Flags.string({ summary: 'Tag the saga, as key=value (repeatable); find it again with saga list --tag.', multiple: true }),
}

export const pageFlags = {
  limit: Flags.integer({ summary: `Rows per page (at most ${MAX_LIMIT}).`, default: 50, min: 1, max: MAX_LIMIT }),
  after: Flags.string({ summary: 'Continue after this id: the "next" cursor of the previous page.' }),
}

export interface SagaFilterFlagValues {
  status?: string[]
  def?: string
  version?: number
  since?: number
  stuck?: boolean
  'stuck-after'?: number
  failing?: boolean
  error?: string
  key?: string
  tag?: string[]
  where?: string[]
}

export function filterFromFlags(flags: SagaFilterFlagValues, now: Date = new Date()): SagaFilter {
  const filter: SagaFilter = {}
  if (flags.status?.length) filter.status = [...new Set(flags.status)] as SagaStatus[]
  if (flags.def !== undefined) filter.definition = flags.def
  if (flags.version !== undefined) filter.version = flags.version
  if (flags.since !== undefined) filter.since = new Date(now.getTime() - flags.since)
  if (flags.stuck) filter.stuckAfterMs = flags['stuck-after'] ?? 600_000
  if (flags.failing) filter.failing = true
  if (flags.error !== undefined && flags.error !== '') filter.error = flags.error
  if (flags.key !== undefined) filter.key = flags.key
  if (flags.tag?.length) filter.tags = tagsFromTexts(flags.tag)
  if (flags.where?.length) filter.where = flags.where.map(parseWhere)
  return filter
}

/** True when the filter selects something narrower than every saga: bulk commands refuse an empty one. */
export function isFilterEmpty(filter: SagaFilter): boolean {
  return Object.keys(filter).length === 0
}

/** `--reason`, `--note`: what the audit log keeps, so blank is refused before anything happens. */
export const textFlag = Flags.custom<string>({
  parse: async (input) => {
    if (input.trim() === '') throw usage('must not be empty: say why, for the audit log')
    return input
  },
})
