// What a demo run amounts to: how its sagas ended, how long they took, a few of the ones
// that did not complete and why, and whether the services agree with the engine. Pure
// data, so the command can render it as tables or JSON and tests can read it directly.

import type { SagaStatus } from '../engine/types.js'
import type { ConsistencyCheck, ConsistencyReport } from './services/index.js'

/** One saga of the run as the report needs it. */
export interface DemoSaga {
  id: string
  status: SagaStatus
  step: string | null
  reason: string | null
  createdAt: Date
  updatedAt: Date
  finishedAt: Date | null
}

export const OUTCOME_STATUSES = ['completed', 'compensated', 'suspended', 'failed'] as const
export type OutcomeStatus = (typeof OUTCOME_STATUSES)[number]

export interface Durations {
  p50: number | null
  p95: number | null
}

export interface DemoSample {
  id: string
  status: OutcomeStatus
  step: string | null
  reason: string | null
}

export interface DemoReport {
  run: string
  seed: number
  database: string
  /** Sagas started. */
  sagas: number
  outcomes: Record<OutcomeStatus, number> & { unfinished: number }
  /** From start to completed, compensated or failed; suspended sagas have not finished. */
  durationsMs: Durations
  /** Per outcome; for suspended sagas, the time until they were suspended. */
  durationsByOutcome: Record<OutcomeStatus, Durations>
  /** Interventions still open for this run's sagas. */
  openInterventions: number
  samples: DemoSample[]
  consistency: ConsistencyReport
  elapsedMs: number
}

export interface ReportInput {
  run: string
  seed: number
  database: string
  sagas: readonly DemoSaga[]
  consistency: ConsistencyReport
  openInterventions: number
  elapsedMs: number
  /** False when the run gave up waiting: the sagas still moving make the run fail. */
  settled: boolean
  waitedMs?: number
  samplesPerOutcome?: number
}

const isOutcome = (s: SagaStatus): s is OutcomeStatus => (OUTCOME_STATUSES as readonly string[]).includes(s)

export function buildReport(input: ReportInput): DemoReport {
  const outcomes = { completed: 0, compensated: 0, suspended: 0, failed: 0, unfinished: 0 }
  for (const s of input.sagas) outcomes[isOutcome(s.status) ? s.status : 'unfinished']++

  const tookMs = (s: DemoSaga) => (s.finishedAt ?? s.updatedAt).getTime() - s.createdAt.getTime()
  const byOutcome = (status: OutcomeStatus) => durations(input.sagas.filter((s) => s.status === status).map(tookMs))
  const finished = input.sagas.filter((s) => s.finishedAt !== null && s.status !== 'suspended')

  const perOutcome = input.samplesPerOutcome ?? 5
  const samples: DemoSample[] = []
  for (const status of ['compensated', 'suspended', 'failed'] as const) {
    for (const s of input.sagas.filter((x) => x.status === status).slice(0, perOutcome)) {
      samples.push({ id: s.id, status, step: s.step, reason: s.reason })
    }
  }

  const checks: ConsistencyCheck[] = [...input.consistency.checks]
  if (!input.settled) {
    const waited = input.waitedMs === undefined ? '' : ` after ${Math.round(input.waitedMs / 1000)}s`
    checks.push({ check: 'every saga finished or suspended', ok: false, detail: `${outcomes.unfinished} saga(s) still in progress${waited}` })
  }

  return {
    run: input.run,
    seed: input.seed,
    database: input.database,
    sagas: input.sagas.length,
    outcomes,
    durationsMs: durations(finished.map(tookMs)),
    durationsByOutcome: {
      completed: byOutcome('completed'),
      compensated: byOutcome('compensated'),
      suspended: byOutcome('suspended'),
      failed: byOutcome('failed'),
    },
    openInterventions: input.openInterventions,
    samples,
    consistency: { ok: checks.every((c) => c.ok), checks },
    elapsedMs: input.elapsedMs,
  }
}

/** Nearest-rank percentiles: every value printed is one a saga actually took. */
export function durations(values: readonly number[]): Durations {
  if (values.length === 0) return { p50: null, p95: null }
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
  return { p50: at(0.5), p95: at(0.95) }
}

/** Counts while the run is going: the one line redrawn on stderr. */
export interface DemoCounts {
  started: number
  target: number | null
  active: number
  completed: number
  compensated: number
  suspended: number
  failed: number
}

export function progressText(c: DemoCounts): string {
  const started = c.target === null ? `${c.started}` : `${c.started}/${c.target}`
  const parts = [`started ${started}`, `in flight ${c.active}`, `completed ${c.completed}`, `compensated ${c.compensated}`, `suspended ${c.suspended}`]
  if (c.failed > 0) parts.push(`failed ${c.failed}`)
  return parts.join(' · ')
}

/**
 * The run's conclusion in plain words: what the checks above it mean for an order, and
 * where the sagas that need a person went.
 */
export function verdict(r: DemoReport): string[] {
  const lines: string[] = []
  const { completed, compensated, suspended, failed, unfinished } = r.outcomes
  if (r.consistency.ok) {
    lines.push(
      `Consistent: for each of the ${compensated} compensated saga(s), stock, payment and points are back where they started;` +
        ` for each of the ${completed} completed one(s), they moved exactly once.`,
    )
  } else {
    const bad = r.consistency.checks.filter((c) => !c.ok).map((c) => c.check)
    lines.push(`NOT consistent: ${bad.join('; ')}. The FAIL rows above name the sagas.`)
  }
  if (suspended > 0) {
    lines.push(
      `${suspended} suspended saga(s) could not be undone automatically and wait for a person (${r.openInterventions} open intervention(s)):` +
        ' they are reported, not judged. See: sagactl intervention list',
    )
  }
  if (failed > 0) lines.push(`${failed} saga(s) failed (aborted, or could neither finish nor be undone): sagactl saga list --status failed`)
  if (unfinished > 0) lines.push(`${unfinished} saga(s) were still in progress when the demo stopped; the next demo run aborts them.`)
  return lines
}
