import { getSaga } from '../db/queries/sagas.js'
import type { Database, Queryable } from '../db/types.js'
import { NotFoundError } from '../errors.js'
import { TERMINAL_STATUSES, type ChangeNotice, type Saga } from './types.js'

/** A notice concerns the saga when it lists it, or lists nothing (too many changes to name). */
export function noticeMentions(payload: string, sagaId: string): boolean {
  try {
    const notice = JSON.parse(payload) as ChangeNotice
    return !Array.isArray(notice.changes) || notice.changes.some((c) => c.id === sagaId)
  } catch {
    return true
  }
}

/** Where `saga wait` stops: finished, or suspended until an operator acts. */
export const isSettled = (s: Pick<Saga, 'status'>) => TERMINAL_STATUSES.includes(s.status) || s.status === 'suspended'

export interface WaitOptions {
  /** Give up after this long: the result is then `timedOut` with the saga as last read. */
  timeoutMs?: number
  signal?: AbortSignal
  /** The backstop poll, for notifications that never come (a pooler, a dropped connection) [default: 1000]. */
  pollMs?: number
  /** Told once when notifications are unavailable and only the poll is left. */
  onPollOnly?: (err: unknown) => void
}

export interface WaitResult {
  saga: Saga
  /** True when the timeout (or the signal) ended the wait before the saga settled. */
  timedOut: boolean
}

/**
 * Waits until the saga is finished or suspended. Woken by the NOTIFY its transitions send
 * (on `listen`, the primary), and by a poll in case one is lost. Reads on `q`. Not found
 * (exit 3) when there is no such saga, or it is deleted meanwhile.
 */
export async function waitForSaga(q: Queryable, listen: Database, sagaId: string, o: WaitOptions = {}): Promise<WaitResult> {
  const read = async () => {
    const s = await getSaga(q, sagaId)
    if (!s) throw new NotFoundError(`saga ${sagaId} not found (deleted while waiting?)`)
    return s
  }
  let saga = await read()
  if (isSettled(saga)) return { saga, timedOut: false }
  const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs
  // A notice that arrives while the saga is being read is not lost: `poked` keeps it.
  let poked = false
  let wake: () => void = () => (poked = true)
  const unlisten = await listen
    .listen((payload) => {
      if (noticeMentions(payload, sagaId)) wake()
    })
    .catch((err: unknown) => {
      o.onPollOnly?.(err)
      return undefined
    })
  const onAbort = () => wake()
  o.signal?.addEventListener('abort', onAbort)
  try {
    for (;;) {
      poked = false
      // Read after subscribing: a transition committed before the LISTEN is seen here.
      saga = await read()
      if (isSettled(saga)) return { saga, timedOut: false }
      const left = deadline - Date.now()
      if (left <= 0 || o.signal?.aborted) return { saga, timedOut: true }
      if (poked) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(o.pollMs ?? 1000, left))
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wake = () => (poked = true)
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort)
    await unlisten?.()
  }
}
