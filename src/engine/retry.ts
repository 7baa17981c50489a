import type { RetryPolicy } from './definition.js'

/**
 * Delay before the next attempt, in ms, after `attempt` (1-based) failed.
 * The cap applies before jitter, so a jittered delay never exceeds maxDelay. Jitter
 * draws from [50%, 100%] of the delay rather than AWS's [0, 100%]: it still spreads a
 * thundering herd, and a retry of a service that is down never fires immediately.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt))
  const base =
    policy.backoff === 'fixed' ? policy.initialDelay
    : policy.backoff === 'linear' ? policy.initialDelay * n
    : policy.initialDelay === 0 ? 0 // 0 x 2^1024 would be NaN
    : policy.initialDelay * 2 ** (n - 1) // Infinity for huge n, which the cap absorbs
  // The cap never cuts below the initial delay (specs stored before that rule could say so).
  const capped = Math.max(0, Math.min(Math.max(policy.maxDelay, policy.initialDelay), base))
  if (!policy.jitter || capped === 0) return Math.round(capped)
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.max(1, Math.round(capped * (0.5 + 0.5 * r)))
}

/** Whether another attempt is allowed after `attempt` (1-based) failed. */
export function shouldRetry(policy: RetryPolicy, attempt: number): boolean {
  return attempt < policy.maxAttempts
}
