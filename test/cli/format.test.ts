import { describe, expect, it } from 'vitest'
import { filterFromFlags, isFilterEmpty } from '../../src/cli/flags.js'
import { age, duration, eventDetails, sagaTable, sagaWhy, shortId, shortIds, stepDuration, timelineOrder, truncate } from '../../src/cli/format.js'
import type { StepRecord } from '../../src/engine/types.js'
import { saga } from '../ui/helpers.js'

describe('shortIds', () => {
  it('gives the millisecond timestamp (13 characters) when that is enough: 8 would repeat within a minute', () => {
    const ids = ['0193a1b2-0000-7000-8000-000000000001', '0193a1b3-0000-7000-8000-000000000001']
    expect([...shortIds(ids).values()]).toEqual(['0193a1b2-0000', '0193a1b3-0000'])
    expect(shortIds(ids, 8).get(ids[0]!)).toBe('0193a1b2')
  })

  it('grows past the dash when a shorter minimum is asked for, never ending on it', () => {
    const m = shortIds(['0193a1b2-c000-7000-8000-000000000001', '0193a1b2-c100-7000-8000-000000000001', '0193a1b9-0000-7000-8000-000000000000'], 8)
    expect(m.get('0193a1b2-c000-7000-8000-000000000001')).toBe('0193a1b2-c0')
    expect(m.get('0193a1b2-c100-7000-8000-000000000001')).toBe('0193a1b2-c1')
    expect(m.get('0193a1b9-0000-7000-8000-000000000000')).toBe('0193a1b9')
    const dash = shortIds(['0193a1b2-0000-7000-8000-000000000001', '0193a1b2-1000-7000-8000-000000000001'], 8)
    expect([...dash.values()]).toEqual(['0193a1b2-0', '0193a1b2-1'])
  })

  it('keeps every short form unique, a prefix of its id, even within one millisecond', () => {
    const ids = ['0193a1b2-c3d4-7001-8000-000000000001', '0193a1b2-c3d4-7002-8000-000000000001', '0193a1b2-c3d4-7002-8000-000000000002']
    const m = shortIds(ids)
    expect(new Set(m.values()).size).toBe(3)
    for (const id of ids) expect(id.startsWith(m.get(id)!)).toBe(true)
    expect(m.get(ids[0]!)).toBe('0193a1b2-c3d4-7001')
    expect(shortId(ids[0]!)).toBe('0193a1b2-c3d4')
  })
})

describe('age, duration, truncate', () => {
  const now = new Date('2025-01-01T12:00:00Z')
  it('prints the largest whole unit', () => {
    expect(age(new Date(now.getTime() - 12_000), now)).toBe('12s ago')
    expect(age(new Date(now.getTime() - 5 * 60_000 - 59_000), now)).toBe('5m ago')
    expect(age(new Date(now.getTime() - 3 * 3_600_000), now)).toBe('3h ago')
    expect(age(new Date(now.getTime() - 2 * 86_400_000 - 1), now)).toBe('2d ago')
    expect(age(new Date(now.getTime() + 90_000), now)).toBe('in 1m')
    expect(age(null, now)).toBe('')
  })

  it('formats durations and shortens text to one line', () => {
    expect(duration(185_342)).toBe('3m 05s')
    expect(duration(null)).toBe('')
    expect(truncate('connect\n  ECONNREFUSED', 40)).toBe('connect ECONNREFUSED')
    expect(truncate('abcdefghij', 5)).toBe('abcd…')
    expect(truncate(null, 5)).toBe('')
  })

  it('shows event data as key=value pairs', () => {
    expect(eventDetails({ kind: 'transient', error: 'HTTP 503', plan: [2, 1] })).toBe('kind=transient error=HTTP 503 plan=[2,1]')
    expect(eventDetails(null)).toBe('')
  })
})

describe('timelineOrder', () => {
  const step = (index: number, phase: StepRecord['phase']): StepRecord => ({
    sagaId: 's',
    index,
    phase,
    name: `s${index}`,
    status: 'succeeded',
    attempts: 1,
    rerun: 0,
    output: null,
    lastError: null,
    errorKind: null,
    startedAt: null,
    finishedAt: null,
    updatedAt: new Date(),
  })
  const steps = [step(0, 'action'), step(0, 'compensation'), step(1, 'action'), step(1, 'compensation'), step(2, 'action'), step(2, 'compensation')]
  const order = (plan: number[] | null) => timelineOrder(steps, { compensationPlan: plan }).map((s) => `${s.phase[0]}${s.index}`)

  it('puts actions forward, then compensations in plan order, else in reverse', () => {
    expect(order(null)).toEqual(['a0', 'a1', 'a2', 'c2', 'c1', 'c0'])
    expect(order([0, 2, 1])).toEqual(['a0', 'a1', 'a2', 'c0', 'c2', 'c1'])
  })
})

describe('filterFromFlags', () => {
  it('turns flags into a filter', () => {
    const now = new Date('2025-01-01T12:00:00Z')
    expect(filterFromFlags({}, now)).toEqual({})
    expect(isFilterEmpty(filterFromFlags({ 'stuck-after': 600_000 }, now))).toBe(true)
    expect(
      filterFromFlags({ status: ['failed', 'running', 'failed'], def: 'd', version: 2, since: 3_600_000, stuck: true, 'stuck-after': 60_000, failing: true, error: 'x' }, now),
    ).toEqual({
      status: ['failed', 'running'],
      definition: 'd',
      version: 2,
      since: new Date('2025-01-01T11:00:00Z'),
      stuckAfterMs: 60_000,
      failing: true,
      error: 'x',
    })
  })
})

describe('step durations', () => {
  const t = (min: number) => new Date(Date.UTC(2026, 0, 1, 10, min))
  const step = (over: Partial<StepRecord>): StepRecord =>
    ({ sagaId: 's', index: 1, phase: 'compensation', name: 'refund', status: 'succeeded', attempts: 6, rerun: 0, output: null, lastError: null, errorKind: null, startedAt: t(0), finishedAt: t(45), updatedAt: t(45), ...over }) as StepRecord

  it('leave out the time the saga was suspended, waiting for a person', () => {
    const suspended = [{ from: t(2), to: t(42) }]
    expect(stepDuration(step({}), t(50))).toBe(duration(45 * 60_000))
    expect(stepDuration(step({}), t(50), suspended)).toBe(duration(5 * 60_000))
    // Still suspended: only the time up to the suspension counts while it runs.
    expect(stepDuration(step({ status: 'running', finishedAt: null }), t(30), [{ from: t(2), to: null }])).toBe(`${duration(2 * 60_000)}…`)
    // A suspension outside the step's span changes nothing.
    expect(stepDuration(step({ startedAt: t(50), finishedAt: t(51) }), t(60), suspended)).toBe(duration(60_000))
  })
})

describe('saga list says why', () => {
  it('a compensated saga shows why it rolled back; a moving one its last error; a completed one nothing', () => {
    const compensated = saga({ status: 'compensated', reason: 'step process-payment failed: HTTP 422 card_declined', lastError: null })
    expect(sagaWhy(compensated)).toBe('step process-payment failed: HTTP 422 card_declined')
    expect(sagaWhy(saga({ status: 'running', lastError: 'HTTP 503', reason: null }))).toBe('HTTP 503')
    expect(sagaWhy(saga({ status: 'completed', lastError: 'HTTP 503 (retried)', reason: null }))).toBeNull()
    const out = sagaTable([compensated], new Date())
    expect(out).toMatch(/error \/ reason/)
    expect(out).toContain('step process-payment failed: HTTP 422 card_declin')
  })
})
