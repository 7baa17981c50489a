import type { Database } from '../db/types.js'
import type { ChangeNotice } from '../engine/types.js'

/** How often a waiter re-reads when notifications do not arrive. */
export const POLL_ONLY_MS = 1_000

/**
 * One LISTEN for the whole server, fanned out to the requests waiting on a saga (?wait=
 * and event streams). A notice without a list of sagas (a large batch) wakes every
 * waiter; each waiter also re-reads on a timer, in case a notification is lost. When
 * notifications cannot be had (LISTEN refused, or a test NOTIFY gets no answer, as through
 * PgBouncer in transaction mode), `onPollOnly` is told once and waiters re-read every second.
 */
export class SagaWatch {
  private readonly waiters = new Map<string, Set<() => void>>()
  private listening: Promise<(() => Promise<void>) | null> | null = null
  private pollOnly = false
  private closed = false

  constructor(
    private readonly db: Database,
    private readonly onPollOnly: (err: unknown) => void = () => {},
  ) {}

  /** Starts listening now rather than for the first waiter (a server does, so a problem shows at start). */
  listen(): Promise<unknown> {
    this.listening ??= this.db
      .listen((payload) => this.dispatch(payload))
      .catch((err: unknown) => {
        this.pollOnly = true
        this.onPollOnly(err)
        return null
      })
    return this.listening
  }

  /** Resolves when the saga changes, after `ms`, or when the server shuts down, whichever is first. */
  async changed(sagaId: string, ms: number): Promise<void> {
    if (this.closed) return
    await this.listen()
    if (this.pollOnly) ms = Math.min(ms, POLL_ONLY_MS)
    await new Promise<void>((resolve) => {
      const set = this.waiters.get(sagaId) ?? new Set()
      this.waiters.set(sagaId, set)
      const done = () => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0 && this.waiters.get(sagaId) === set) this.waiters.delete(sagaId)
        resolve()
      }
      const timer = setTimeout(done, ms)
      set.add(done)
    })
  }

  get isClosed(): boolean {
    return this.closed
  }

  private dispatch(payload: string): void {
    let ids: string[] | null = null
    try {
      const notice = JSON.parse(payload) as ChangeNotice
      if (Array.isArray(notice.changes)) ids = notice.changes.map((c) => c.id)
    } catch {
      // Not ours to parse: wake everyone, they re-read.
    }
    const sets = ids ? ids.map((id) => this.waiters.get(id)) : [...this.waiters.values()]
    for (const set of sets) for (const wake of [...(set ?? [])]) wake()
  }

  /** Wakes every waiter (they answer with what they have) and stops listening. */
  async close(): Promise<void> {
    this.closed = true
    for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake()
    const off = await this.listening
    await off?.()
  }
}
