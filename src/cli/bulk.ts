import { Flags } from '@oclif/core'
import { countSagas, getSaga, listSagas, resolveSagaId, type SagaFilter } from '../db/queries/sagas.js'
import type { Queryable } from '../db/types.js'
import type { Saga } from '../engine/types.js'
import { conflictKind, ExitCode, NotFoundError, UsageError, type ConflictKind } from '../errors.js'
import { refusalsOf, refusalSummary, type Eligibility, type RefusalCount } from './bulk-eligibility.js'
import { confirmOrRefuse } from './confirm.js'
import { filterFromFlags, isFilterEmpty, sagaFilterFlags, type SagaFilterFlagValues } from './flags.js'
import { sagaTable, shortId, truncate } from './format.js'
import { color, status, table } from './render.js'

/* The loop: no oclif, no database, so the console's group actions can run it too. */

/** A saga to act on, with the revision the operator saw: a different one is a conflict. */
export interface BulkTarget {
  id: string
  revision?: number
  /** Set when the saga's state, as read, does not allow the action: it is counted as refused, not acted on. */
  refusal?: string | null
}

export interface BulkError {
  id: string
  message: string
  /** For conflicts: the state does not allow it, or the saga changed meanwhile. */
  kind?: ConflictKind
}

export interface BulkTally {
  succeeded: number
  /** Refused: the saga's state does not allow the action; nothing was changed. */
  refused: number
  /** The saga changed after it was read (a worker, another operator); nothing was changed. */
  changed: number
  /** refused + changed: both exit 4. */
  conflicted: number
  failed: number
  /** The first few failures (not conflicts): what to look at. */
  errors: BulkError[]
  /** The first few conflicts, with why. */
  conflicts: BulkError[]
}

export interface BulkProgress {
  done: number
  succeeded: number
  refused: number
  changed: number
  conflicted: number
  failed: number
}

export interface BulkLoopOptions {
  /** At most this many actions start per second. */
  rps?: number
  onProgress?: (p: BulkProgress) => void
  /** How many failure and conflict messages to keep, each [default: 10]. */
  maxErrors?: number
}

export type BulkAct = (id: string, expectedRevision: number | undefined) => Promise<unknown>

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Acts on each target in turn and tallies the outcomes; one saga's error never stops the
 * rest. With `rps`, consecutive starts are at least 1/rps seconds apart, so a slow action
 * is never followed by a catch-up burst.
 */
export async function runBulk(targets: Iterable<BulkTarget> | AsyncIterable<BulkTarget>, act: BulkAct, opts: BulkLoopOptions = {}): Promise<BulkTally> {
  const tally: BulkTally = { succeeded: 0, refused: 0, changed: 0, conflicted: 0, failed: 0, errors: [], conflicts: [] }
  const interval = opts.rps ? 1000 / opts.rps : 0
  const maxErrors = opts.maxErrors ?? 10
  let lastStart = -Infinity
  let done = 0
  const conflict = (id: string, message: string, kind: ConflictKind) => {
    tally[kind === 'state' ? 'refused' : 'changed']++
    tally.conflicted++
    if (tally.conflicts.length < maxErrors) tally.conflicts.push({ id, message, kind })
  }
  for await (const t of targets) {
    if (t.refusal) {
      // Refused on what was read: no call, no pause for --rps, nothing changed.
      conflict(t.id, `saga ${t.id} ${t.refusal}`, 'state')
    } else {
      const wait = lastStart + interval - Date.now()
      if (wait > 0) await sleep(wait)
      lastStart = Date.now()
      try {
        await act(t.id, t.revision)
        tally.succeeded++
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        const kind = conflictKind(err)
        if (kind) conflict(t.id, message, kind)
        else {
          tally.failed++
          if (tally.errors.length < maxErrors) tally.errors.push({ id: t.id, message })
        }
      }
    }
    done++
    const { succeeded, refused, changed, conflicted, failed } = tally
    opts.onProgress?.({ done, succeeded, refused, changed, conflicted, failed })
  }
  return tally
}

/** 0 when every action succeeded, 1 when any failed, else 4 when any conflicted. */
export function bulkExitCode(t: Pick<BulkTally, 'failed' | 'conflicted'> & Partial<BulkTally>): number {
  if (t.failed > 0) return ExitCode.unexpected
  return t.conflicted > 0 ? ExitCode.conflict : ExitCode.ok
}

/**
 * The sagas a filter selects, newest first, at most `max`, in chunks read by id cursor.
 * Acting changes statuses, so an offset would skip or repeat rows; the cursor only moves
 * down the ids, never back over a saga already handled.
 */
export async function* matchingSagas(q: Queryable, filter: SagaFilter, max: number, chunk = 500): AsyncGenerator<Saga[]> {
  let after: string | undefined
  let left = max
  while (left > 0) {
    const page = await listSagas(q, filter, { limit: Math.min(chunk, left), after })
    if (page.items.length > 0) yield page.items
    left -= page.items.length
    if (!page.next) return
    after = page.next
  }
}

async function* targetsOf(chunks: AsyncIterable<Saga[]>, eligibility?: Eligibility): AsyncGenerator<BulkTarget> {
  const now = new Date()
  for await (const chunk of chunks) {
    for (const s of chunk) yield { id: s.id, revision: s.revision, refusal: eligibility?.(s, now) ?? null }
  }
}

/* The command side: flags, the id-or-filters choice, confirmation and the report. */

export const operatorFlags = {
  operator: Flags.string({ summary: 'Who the audit log records [default: the OS user].' }),
}

/** A positive rate in calls (or actions) per second. */
export const rpsFlag = Flags.custom<number>({
  parse: async (input) => {
    const n = Number(input)
    if (input.trim() === '' || !Number.isFinite(n) || n <= 0) throw Object.assign(new Error(`--rps must be a positive number, got "${input}"`), { oclif: { exit: 2 } })
    return n
  },
})

/** The bulk form's own flags; the selection itself is `sagaFilterFlags`. */
export const bulkFlags = {
  yes: Flags.boolean({ char: 'y', summary: 'Act without asking; required when stdin is not a terminal.', helpGroup: 'BULK' }),
  rps: rpsFlag({ summary: 'At most this many sagas per second.', helpGroup: 'BULK' }),
  limit: Flags.integer({ summary: 'Act on at most this many of the matching sagas, newest first [default: all].', min: 1, helpGroup: 'BULK' }),
}

/** The bulk form of an action that has no single-saga dry run: its --dry-run lists the selection. */
export const bulkSelectionFlags = {
  'dry-run': Flags.boolean({ summary: 'Bulk form: list the sagas the filters select; change nothing.', helpGroup: 'BULK' }),
  ...bulkFlags,
  ...sagaFilterFlags,
}

export interface BulkFlagValues {
  yes?: boolean
  rps?: number
  limit?: number
}

/** The bulk form's flags as bulkAction takes them. */
export function bulkFlagOptions(flags: BulkFlagValues & { 'dry-run'?: boolean }): Pick<BulkCommandOptions, 'yes' | 'dryRun' | 'rps' | 'limit'> {
  return { yes: flags.yes ?? false, dryRun: flags['dry-run'] ?? false, rps: flags.rps, limit: flags.limit }
}

export type ActionTarget = { kind: 'one'; id: string } | { kind: 'many'; filter: SagaFilter }

const given = (flags: Record<string, unknown>) =>
  Object.entries(flags)
    .filter(([, v]) => v !== undefined && v !== false)
    .map(([k]) => `--${k}`)

/**
 * One saga by id, or every saga the filter flags select: exactly one of the two.
 * `singleOnly` and `bulkOnly` name the flags that make sense in only one form.
 */
export function actionTarget(
  id: string | undefined,
  flags: SagaFilterFlagValues & BulkFlagValues,
  only: { singleOnly?: Record<string, unknown>; bulkOnly?: Record<string, unknown> } = {},
): ActionTarget {
  const filter = filterFromFlags(flags)
  if (id !== undefined) {
    if (!isFilterEmpty(filter)) throw new UsageError('give a saga id or filter flags, not both', 'an id acts on one saga; filters (--status, --def, …) act on every saga they select')
    const bulk = given({ rps: flags.rps, limit: flags.limit, ...only.bulkOnly })
    if (bulk.length > 0) throw new UsageError(`${bulk.join(', ')} applies to the bulk form only: give filter flags instead of an id`)
    return { kind: 'one', id }
  }
  if (isFilterEmpty(filter)) throw new UsageError('give a saga id, or filter flags (--status, --def, --since, --error, --stuck, --failing, --key, --tag, --where) to act on many sagas', 'see --help')
  const single = given(only.singleOnly ?? {})
  if (single.length > 0) throw new UsageError(`${single.join(', ')} needs a saga id: it does not apply to the bulk form`)
  return { kind: 'many', filter }
}

/** The saga an id or unique prefix names: usage error (2) when malformed or ambiguous, not found (3) when none. */
export async function findSaga(q: Queryable, idOrPrefix: string): Promise<Saga> {
  const saga = await getSaga(q, await resolveSagaId(q, idOrPrefix))
  if (!saga) throw new NotFoundError(`no saga matches "${idOrPrefix}"`)
  return saga
}

/** `retried 0193ab12-7c3d… (suspended -> running)` */
export function actionLine(done: string, before: Pick<Saga, 'id' | 'status'>, after: Pick<Saga, 'status'>): string {
  return `${done} ${shortId(before.id)}… (${status(before.status)} -> ${status(after.status)})`
}

export interface BulkReport extends BulkTally {
  matched: number
}

export interface BulkDryRun {
  dryRun: true
  matched: number
  /** Of the matched, how many the action would be refused on, by reason. */
  refused: number
  refusals: RefusalCount[]
  /** The sagas that match; filled for --json only, people get tables as chunks arrive. */
  items: Saga[]
}

export interface BulkCommandOptions {
  db: Queryable
  filter: SagaFilter
  /** For the question: `Retry 1,234 sagas? [y/N]`. */
  verb: string
  /** For the report and the progress line: `retried`. */
  done: string
  /** Said in the question after the count, e.g. what the action does not do. */
  warning?: string
  /** Why the action would be refused on a saga in its state (null: allowed); asked before the question and the dry run. */
  eligibility?: Eligibility
  yes: boolean
  dryRun: boolean
  rps?: number
  limit?: number
  json: boolean
  log: (line: string) => void
  act: BulkAct
}

const fmt = (n: number) => n.toLocaleString('en-US')
const sagas = (n: number) => `${fmt(n)} ${n === 1 ? 'saga' : 'sagas'}`

/**
 * The bulk form: count, confirm (or --dry-run: list), act through `runBulk` with the
 * revision each saga had when its chunk was read, report, and set the exit code.
 */
export async function bulkAction(o: BulkCommandOptions): Promise<BulkReport | BulkDryRun> {
  const count = await countSagas(o.db, o.filter)
  const matched = o.limit === undefined ? count : Math.min(count, o.limit)
  process.stderr.write(`${sagas(count)} ${count === 1 ? 'matches' : 'match'}${matched < count ? ` (--limit: the newest ${fmt(matched)})` : ''}\n`)
  const refusals = o.eligibility && matched > 0 ? await refusalsOf(matchingSagas(o.db, o.filter, matched), o.eligibility) : { refused: 0, reasons: [] }
  if (refusals.refused > 0) process.stderr.write(`${refusalSummary(refusals, matched)}\n`)
  if (o.dryRun) return dryRun(o, matched, refusals)
  const report: BulkReport = { matched, succeeded: 0, refused: 0, changed: 0, conflicted: 0, failed: 0, errors: [], conflicts: [] }
  if (matched === 0) return report
  const willAct = matched - refusals.refused
  if (willAct > 0 && !(await confirmOrRefuse(`${o.verb} ${sagas(willAct)}${o.warning ? ` ${o.warning}` : ''}?`, { yes: o.yes, what: sagas(willAct) }))) return report
  const progress = process.stderr.isTTY && process.stdout.isTTY ? progressLine(o.done, matched) : undefined
  const tally = await runBulk(targetsOf(matchingSagas(o.db, o.filter, matched), o.eligibility), o.act, { rps: o.rps, onProgress: progress?.update })
  progress?.clear()
  Object.assign(report, tally)
  process.exitCode = bulkExitCode(report)
  if (!o.json) o.log(reportText(o.done, report))
  return report
}

async function dryRun(o: BulkCommandOptions, matched: number, refusals: { refused: number; reasons: RefusalCount[] }): Promise<BulkDryRun> {
  const out: BulkDryRun = { dryRun: true, matched, refused: refusals.refused, refusals: refusals.reasons, items: [] }
  const now = new Date()
  for await (const chunk of matchingSagas(o.db, o.filter, matched)) {
    if (o.json) out.items.push(...chunk)
    else o.log(sagaTable(chunk, now))
  }
  // A dry run exits as the action would: 4 when some of it would be refused.
  if (refusals.refused > 0) process.exitCode = ExitCode.conflict
  if (!o.json) {
    const acting = matched - refusals.refused
    o.log(`dry run: would act on ${sagas(acting)}${refusals.refused > 0 ? `, and be refused on ${fmt(refusals.refused)}` : ''}; nothing changed`)
    if (refusals.refused > 0) o.log(table(['refused', 'sagas'], refusals.reasons.map((r) => [r.reason, fmt(r.count)])))
  }
  return out
}

function reportText(done: string, r: BulkReport): string {
  const paint = (n: number, c: (s: string) => string) => (n > 0 ? c(fmt(n)) : fmt(n))
  const lines = [
    `${done} ${fmt(r.succeeded)} of ${sagas(r.matched)}`,
    table(
      ['result', 'sagas'],
      [
        ['succeeded', fmt(r.succeeded)],
        ['refused (state does not allow it)', paint(r.refused, color.yellow)],
        ['changed meanwhile', paint(r.changed, color.yellow)],
        ['failed', paint(r.failed, color.red)],
      ],
    ),
  ]
  const kept = [
    ...r.errors.map((e) => [e.id, color.red('failed'), truncate(e.message, 100)]),
    ...r.conflicts.map((e) => [e.id, color.yellow(e.kind === 'changed' ? 'changed' : 'refused'), truncate(e.message, 100)]),
  ]
  if (kept.length > 0) lines.push(table(['saga', 'result', 'why'], kept))
  const more = r.failed - r.errors.length + (r.conflicted - r.conflicts.length)
  if (more > 0) lines.push(color.dim(`and ${fmt(more)} more not shown`))
  return lines.join('\n')
}

/** One line redrawn in place on stderr, at most ten times a second. */
function progressLine(done: string, total: number) {
  let last = 0
  return {
    update(p: BulkProgress) {
      const now = Date.now()
      if (p.done < total && now - last < 100) return
      last = now
      process.stderr.write(`\r${done} ${fmt(p.done)}/${fmt(total)}: ${fmt(p.succeeded)} ok, ${fmt(p.refused)} refused, ${fmt(p.changed)} changed, ${fmt(p.failed)} failed\x1b[K`)
    },
    clear() {
      process.stderr.write('\r\x1b[K')
    },
  }
}

export interface SagaActionOptions {
  db: Queryable
  target: ActionTarget
  flags: BulkFlagValues & { 'dry-run'?: boolean }
  verb: string
  done: string
  warning?: string
  eligibility?: Eligibility
  json: boolean
  log: (line: string) => void
  /** The engine call, with the revision the operator's selection saw. */
  act: (id: string, expectedRevision: number | undefined) => Promise<Saga>
}

/**
 * The two forms of retry, compensate and abort: one saga by id (checked against the
 * revision just read, reported as `retried … (suspended -> running)`), or the bulk form.
 */
export async function sagaAction(o: SagaActionOptions): Promise<Saga | BulkReport | BulkDryRun> {
  if (o.target.kind === 'many') {
    return bulkAction({
      db: o.db,
      filter: o.target.filter,
      verb: o.verb,
      done: o.done,
      warning: o.warning,
      eligibility: o.eligibility,
      ...bulkFlagOptions(o.flags),
      json: o.json,
      log: o.log,
      act: o.act,
    })
  }
  const before = await findSaga(o.db, o.target.id)
  const after = await o.act(before.id, before.revision)
  if (!o.json) o.log(actionLine(o.done, before, after))
  return after
}
