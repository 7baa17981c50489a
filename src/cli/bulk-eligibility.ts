import type { Saga } from '../engine/types.js'

/** Why the action would be refused on this saga as read (worded to follow `saga <id> `), or null. */
export type Eligibility = (saga: Saga, now: Date) => string | null

export interface RefusalCount {
  reason: string
  count: number
}

/**
 * Reads the selection once before the question, so "Compensate 4 sagas?" counts only the
 * sagas the action is allowed on, and the rest are named with their reason up front.
 */
export async function refusalsOf(chunks: AsyncIterable<Saga[]>, eligibility: Eligibility): Promise<{ refused: number; reasons: RefusalCount[] }> {
  const now = new Date()
  const byReason = new Map<string, number>()
  let refused = 0
  for await (const chunk of chunks) {
    for (const s of chunk) {
      const why = eligibility(s, now)
      if (why === null) continue
      refused++
      // Reasons that name a worker would each be their own group: group by what precedes it.
      const key = why.replace(/ by worker \S+$/, ' by a worker')
      byReason.set(key, (byReason.get(key) ?? 0) + 1)
    }
  }
  const reasons = [...byReason].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count)
  return { refused, reasons }
}

/** `2 of 6 would be refused: 2 is already compensating` */
export function refusalSummary(r: { refused: number; reasons: RefusalCount[] }, matched: number): string {
  const why = r.reasons.map((x) => `${x.count.toLocaleString('en-US')} ${x.reason}`).join('; ')
  const all = r.refused === matched
  return `${all ? 'all' : `${r.refused.toLocaleString('en-US')} of`} ${matched.toLocaleString('en-US')} would be refused, and are left alone: ${why}`
}
