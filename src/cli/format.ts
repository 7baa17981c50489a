import { formatDuration } from '../engine/duration.js'
import type { GateState } from '../db/participants.js'
import type { Suspension } from '../db/queries/sagas.js'
import type { ForkSummary } from '../db/repairs.js'
import { waitingText } from '../engine/participants/controls.js'
import type { AuditEntry, Intervention, Saga, SagaEvent, StepRecord } from '../engine/types.js'
import { color, isoOrEmpty, status, table } from './render.js'

/**
 * A lone id shortened to its first 13 characters: a UUIDv7's whole millisecond
 * timestamp, so it is unique unless two sagas were created in the same millisecond.
 */
export function shortId(id: string): string {
  return id.slice(0, 13)
}

/**
 * The shortest leading form of each id that no other id in `ids` shares, at least `min`
 * characters, so a column of ids stays narrow and each can be pasted back as a prefix.
 * UUIDv7s created in the same minute share their first 8 characters, so the default is
 * 13 (the millisecond timestamp): a prefix that also stays unique among the sagas not
 * shown. Ids of one millisecond grow further, never ending on a dash.
 */
export function shortIds(ids: string[], min = 13): Map<string, string> {
  const sorted = [...new Set(ids)].sort()
  const common = (a: string | undefined, b: string): number => {
    if (a === undefined) return 0
    let i = 0
    while (i < a.length && i < b.length && a[i] === b[i]) i++
    return i
  }
  const out = new Map<string, string>()
  sorted.forEach((id, i) => {
    let n = Math.max(min, Math.max(common(sorted[i - 1], id), common(sorted[i + 1], id)) + 1)
    if (id[n - 1] === '-') n++
    out.set(id, id.slice(0, Math.min(n, id.length)))
  })
  return out
}

/** `12s ago`, `5m ago`, `3h ago`, `2d ago`; a future time is `in 5m`. */
export function age(date: Date | null | undefined, now: Date = new Date()): string {
  if (!date) return ''
  const diff = now.getTime() - date.getTime()
  const s = Math.floor(Math.abs(diff) / 1000)
  const text = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86_400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86_400)}d`
  return diff >= 0 ? `${text} ago` : `in ${text}`
}

export function duration(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '' : formatDuration(ms)
}

/** One line of at most `n` characters: error texts carry newlines and stack-like tails. */
export function truncate(text: string | null | undefined, n: number): string {
  if (!text) return ''
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length <= n ? line : `${line.slice(0, Math.max(0, n - 1))}…`
}

const when = (d: Date | null, now: Date): string => (d ? `${isoOrEmpty(d)} (${age(d, now)})` : '')

function keyValues(pairs: Array<[string, string | null | undefined]>): string {
  const shown = pairs.filter(([, v]) => v !== null && v !== undefined && v !== '')
  const width = Math.max(...shown.map(([k]) => k.length))
  return shown.map(([k, v]) => `${color.dim(k.padEnd(width))}  ${v}`).join('\n')
}

/** The sagas forked from one (`saga show`). */
export function forksTable(forks: ForkSummary[], definition: string, now: Date): string {
  return table(['id', 'definition', 'status', 'step', 'created'], forks.map((f) => [f.id, `${definition}@${f.version}`, status(f.status), f.currentStep, when(f.createdAt, now)]))
}

export function sagaHeader(saga: Saga, now: Date = new Date(), waiting: Map<string, GateState> = new Map()): string {
  return keyValues([
    ['saga', saga.id],
    ['definition', `${saga.definition}@${saga.version}`],
    ['status', status(saga.status)],
    ['step', saga.currentStep === null ? null : `${saga.currentStep} (#${saga.stepIndex ?? '?'})`],
    ['waiting', saga.waitingFor ? color.magenta(waitingText(saga.waitingFor, waiting.get(saga.waitingFor))) : null],
    ['created', when(saga.createdAt, now)],
    ['updated', when(saga.updatedAt, now)],
    ['finished', when(saga.finishedAt, now)],
    ['deadline', saga.finishedAt ? null : when(saga.deadlineAt, now)],
    ['next run', saga.finishedAt ? null : when(saga.dueAt, now)],
    ['key', saga.key],
    ['tags', Object.keys(saga.tags).length ? Object.entries(saga.tags).map(([k, v]) => `${k}=${v}`).join(' ') : null],
    ['forked from', saga.forkedFrom],
    ['reason', saga.reason],
    ['last error', saga.lastError ? color.red(saga.lastError) : null],
  ])
}

/**
 * Steps in the order they ran: actions forward, then compensations in the saga's plan
 * order (reverse step order when there is no plan), so the table reads as a timeline.
 */
export function timelineOrder(steps: StepRecord[], saga: Pick<Saga, 'compensationPlan'>): StepRecord[] {
  const actions = steps.filter((s) => s.phase === 'action').sort((a, b) => a.index - b.index)
  const plan = saga.compensationPlan ?? []
  const rank = (s: StepRecord) => {
    const i = plan.indexOf(s.index)
    return i === -1 ? plan.length + (1_000_000 - s.index) : i
  }
  const compensations = steps.filter((s) => s.phase === 'compensation').sort((a, b) => rank(a) - rank(b))
  return [...actions, ...compensations]
}

/** Milliseconds of [from, to] that fall inside the suspensions: time a person, not the step, took. */
export function suspendedWithin(from: number, to: number, suspensions: readonly Suspension[], now: number): number {
  let total = 0
  for (const s of suspensions) {
    const start = Math.max(from, s.from.getTime())
    const end = Math.min(to, s.to?.getTime() ?? now)
    if (end > start) total += end - start
  }
  return total
}

/** How long a step took, without the time its saga spent suspended in between. */
export function stepDuration(s: StepRecord, now: Date, suspensions: readonly Suspension[] = []): string {
  if (!s.startedAt) return ''
  const from = s.startedAt.getTime()
  const span = (to: number) => duration(to - from - suspendedWithin(from, to, suspensions, now.getTime()))
  if (s.finishedAt) return span(s.finishedAt.getTime())
  return s.status === 'running' ? `${span(now.getTime())}…` : ''
}

/** The step timeline; durations leave out the suspensions given. */
export function stepsTable(steps: StepRecord[], saga: Pick<Saga, 'compensationPlan'>, now: Date = new Date(), suspensions: readonly Suspension[] = []): string {
  return table(
    ['phase', '#', 'step', 'status', 'attempts', 'duration', 'last error'],
    timelineOrder(steps, saga).map((s) => [s.phase, s.index, s.name, status(s.status), s.attempts, stepDuration(s, now, suspensions), truncate(s.lastError, 60)]),
  )
}

export function interventionBlock(i: Intervention, now: Date = new Date()): string {
  return keyValues([
    ['intervention', i.id],
    ['status', status(i.status)],
    ['saga', i.sagaId],
    ['step', i.step ? `${i.step}${i.phase ? ` (${i.phase})` : ''}` : null],
    ['reason', i.reason],
    ['opened', when(i.createdAt, now)],
    ['resolved', i.resolvedAt ? `${when(i.resolvedAt, now)} by ${i.resolvedBy ?? 'unknown'}` : null],
    ['action', i.action],
    ['note', i.note],
  ])
}

export function auditTable(entries: AuditEntry[]): string {
  return table(
    ['at', 'operator', 'action', 'reason'],
    entries.map((a) => [isoOrEmpty(a.at), a.operator, a.action, truncate(a.reason, 60)]),
  )
}

/** An event's data as `key=value` pairs, strings unquoted: one readable line. */
export function eventDetails(data: Record<string, unknown> | null, n = 80): string {
  if (!data) return ''
  const parts = Object.entries(data).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  return truncate(parts.join(' '), n)
}

export const EVENT_HEAD = ['time', 'type', 'step', 'phase', 'attempt', 'details']

export function eventCells(e: SagaEvent): string[] {
  return [isoOrEmpty(e.at), e.type, e.step ?? '', e.phase ?? '', e.attempt === null ? '' : String(e.attempt), eventDetails(e.data)]
}

/** One event as a line for streaming, where a table cannot grow row by row. */
export function eventLine(e: SagaEvent): string {
  const [at, type, step, phase, attempt, details] = eventCells(e)
  const typeText = type!.padEnd(22)
  const colored = type!.endsWith('failed') ? color.red(typeText) : type!.endsWith('succeeded') || type === 'saga.completed' ? color.green(typeText) : typeText
  return [color.dim(at!), colored, step!.padEnd(20), phase!.padEnd(12), attempt!.padStart(3), details].join(' ').trimEnd()
}

/**
 * What went wrong, for a saga that did not simply complete: the last error while it is
 * moving, else why it ended as it did (a compensated saga's reason is why it rolled back).
 */
export function sagaWhy(s: Pick<Saga, 'status' | 'lastError' | 'reason'>): string | null {
  if (s.status === 'completed') return null
  if (s.status === 'compensated' || s.status === 'failed') return s.reason ?? s.lastError
  return s.lastError ?? s.reason
}

/** The saga table of `saga list` and of the bulk commands' dry runs. */
export function sagaTable(items: Saga[], now: Date, waiting: Map<string, GateState> = new Map()): string {
  const ids = shortIds(items.map((s) => s.id))
  return table(
    ['id', 'definition', 'status', 'step', 'age', 'updated', 'error / reason'],
    items.map((s) => [
      ids.get(s.id),
      `${s.definition}@${s.version}`,
      status(s.status),
      s.currentStep ?? '',
      age(s.createdAt, now),
      age(s.updatedAt, now),
      s.waitingFor
        ? color.magenta(truncate(waitingText(s.waitingFor, waiting.get(s.waitingFor)), 50))
        : color.red(truncate(sagaWhy(s), 50)),
    ]),
  )
}
