/**
 * A refresh that runs at most once per interval and never overlaps itself: requests
 * that arrive while it waits or runs fold into one more run. A burst of a thousand
 * notifications therefore costs one query, not a thousand.
 */
export interface Task {
  /** Run soon, but not sooner than the interval after the previous start. */
  request(): void
  /** Run as soon as the current run (if any) ends, ignoring the interval. */
  now(): void
  stop(): void
}

export function createTask(run: () => Promise<void>, minIntervalMs: number, onError: (err: unknown) => void): Task {
  let running = false
  let again: 'none' | 'throttled' | 'urgent' = 'none'
  let lastStart = Number.NEGATIVE_INFINITY
  let timer: ReturnType<typeof setTimeout> | null = null
  let stopped = false

  const start = (): void => {
    timer = null
    if (stopped) return
    running = true
    lastStart = Date.now()
    run()
      .catch((err: unknown) => {
        if (!stopped) onError(err)
      })
      .finally(() => {
        running = false
        const next = again
        again = 'none'
        if (next === 'urgent') start()
        else if (next === 'throttled') schedule()
      })
  }

  const schedule = (): void => {
    if (stopped || timer) return
    if (running) {
      if (again === 'none') again = 'throttled'
      return
    }
    timer = setTimeout(start, Math.max(0, lastStart + minIntervalMs - Date.now()))
  }

  return {
    request: schedule,
    now() {
      if (stopped) return
      if (timer) {
        clearTimeout(timer)
        timer = null
      }
      if (running) again = 'urgent'
      else start()
    },
    stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      timer = null
    },
  }
}
