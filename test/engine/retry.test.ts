import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Backoff, RetryPolicy } from '../../src/engine/definition.js'
import { retryDelay, shouldRetry } from '../../src/engine/retry.js'

const policy = (p: Partial<RetryPolicy>): RetryPolicy => ({
  maxAttempts: 3,
  backoff: 'exponential',
  initialDelay: 100,
  maxDelay: 10_000,
  jitter: false,
  ...p,
})

/** The delay before jitter, computed independently of the implementation. */
const computed = (p: RetryPolicy, attempt: number): number => {
  const raw = p.backoff === 'fixed' ? p.initialDelay : p.backoff === 'linear' ? p.initialDelay * attempt : p.initialDelay * 2 ** (attempt - 1)
  return Math.min(Math.max(p.maxDelay, p.initialDelay), raw)
}

const arbPolicy = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 50 }),
  backoff: fc.constantFrom<Backoff>('fixed', 'linear', 'exponential'),
  initialDelay: fc.integer({ min: 0, max: 60_000 }),
  maxDelay: fc.integer({ min: 0, max: 3_600_000 }),
  jitter: fc.boolean(),
})

describe('retryDelay', () => {
  it('a zero initial delay stays zero at any attempt (no NaN from 0 x 2^1024)', () => {
    const zero = { maxAttempts: 1, backoff: 'exponential' as const, initialDelay: 0, maxDelay: 0, jitter: false }
    expect(retryDelay(zero, 1025)).toBe(0)
    expect(retryDelay({ ...zero, maxDelay: 1000, jitter: true }, 5000)).toBe(0)
  })

  it('fixed waits initialDelay every time', () => {
    expect([1, 2, 5].map((a) => retryDelay(policy({ backoff: 'fixed' }), a))).toEqual([100, 100, 100])
  })

  it('linear grows by initialDelay per attempt', () => {
    expect([1, 2, 5].map((a) => retryDelay(policy({ backoff: 'linear' }), a))).toEqual([100, 200, 500])
  })

  it('exponential doubles from initialDelay', () => {
    expect([1, 2, 3, 4].map((a) => retryDelay(policy({}), a))).toEqual([100, 200, 400, 800])
  })

  it('is capped at maxDelay, even for attempt numbers that overflow 2^n', () => {
    expect(retryDelay(policy({ maxDelay: 300 }), 3)).toBe(300)
    expect(retryDelay(policy({ maxDelay: 300 }), 5000)).toBe(300)
    expect(retryDelay(policy({ maxDelay: 300, jitter: true }), 5000, () => 0.999)).toBeLessThanOrEqual(300)
  })

  it('jitter spans 50%..100% of the delay and never reaches 0', () => {
    const p = policy({ jitter: true, backoff: 'fixed', initialDelay: 1000 })
    expect(retryDelay(p, 1, () => 0)).toBe(500)
    expect(retryDelay(p, 1, () => 0.5)).toBe(750)
    expect(retryDelay(p, 1, () => 0.999_999)).toBe(1000)
    expect(retryDelay(policy({ jitter: true, backoff: 'fixed', initialDelay: 1 }), 1, () => 0)).toBe(1)
  })

  it('property: with jitter the delay is within [0.5x, 1x] of the computed delay', () => {
    fc.assert(
      fc.property(arbPolicy, fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (p, attempt, r) => {
        const c = computed(p, attempt)
        const d = retryDelay({ ...p, jitter: true }, attempt, () => r)
        expect(d).toBeGreaterThanOrEqual(c * 0.5)
        expect(d).toBeLessThanOrEqual(c)
        if (c > 0) expect(d).toBeGreaterThan(0)
      }),
    )
  })

  it('never waits less than the initial delay because of the cap (a spec stored with maxDelay < initialDelay)', () => {
    expect(retryDelay(policy({ backoff: 'fixed', initialDelay: 3_600_000, maxDelay: 30_000 }), 1)).toBe(3_600_000)
    expect(retryDelay(policy({ initialDelay: 60_000, maxDelay: 30_000 }), 4)).toBe(60_000)
  })

  it('property: never above maxDelay (or the initial delay, when that is longer)', () => {
    fc.assert(
      fc.property(arbPolicy, fc.integer({ min: 1, max: 10_000 }), (p, attempt) => {
        expect(retryDelay(p, attempt)).toBeLessThanOrEqual(Math.max(p.maxDelay, p.initialDelay))
      }),
    )
  })

  it('property: without jitter, linear and exponential never shrink from one attempt to the next', () => {
    fc.assert(
      fc.property(arbPolicy, fc.constantFrom<Backoff>('linear', 'exponential'), fc.integer({ min: 1, max: 200 }), (p, backoff, attempt) => {
        const q = { ...p, backoff, jitter: false }
        expect(retryDelay(q, attempt + 1)).toBeGreaterThanOrEqual(retryDelay(q, attempt))
      }),
    )
  })
})

describe('shouldRetry', () => {
  it('allows attempts up to maxAttempts', () => {
    const p = policy({ maxAttempts: 3 })
    expect([1, 2, 3, 4].map((a) => shouldRetry(p, a))).toEqual([true, true, false, false])
    expect(shouldRetry(policy({ maxAttempts: 1 }), 1)).toBe(false)
  })
})
