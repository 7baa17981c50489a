// Long-running commands stop on SIGTERM and SIGINT, and also when the npm process that
// started them goes away. `npx sagactl worker & kill -TERM $!` signals npm, which passes
// it to the `sh -c` it runs the bin through; the shell dies without passing it on, npm
// exits, and node is reparented to PID 1, still claiming sagas. Under npm (which sets
// npm_command / npm_lifecycle_event for its children) a change of parent therefore
// means "stop" too. Elsewhere it does not: `nohup sagactl worker &` must outlive its shell.

/** True when npm or npx started this process (directly or through its shell). */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.npm_command !== undefined || env.npm_lifecycle_event !== undefined
}

/** Calls `stop` once, with what asked for it; returns a function that unregisters everything. */
export function onStop(stop: (why: string) => void, opts: { env?: NodeJS.ProcessEnv; checkEveryMs?: number } = {}): () => void {
  let fired = false
  const fire = (why: string) => {
    if (fired) return
    fired = true
    stop(why)
  }
  const term = () => fire('SIGTERM')
  const int = () => fire('SIGINT')
  process.once('SIGTERM', term)
  process.once('SIGINT', int)
  let timer: NodeJS.Timeout | undefined
  if (startedByNpm(opts.env)) {
    const parent = process.ppid
    timer = setInterval(() => {
      if (process.ppid !== parent) fire('the npm process that started it exited')
    }, opts.checkEveryMs ?? 250)
    timer.unref()
  }
  return () => {
    process.off('SIGTERM', term)
    process.off('SIGINT', int)
    if (timer) clearInterval(timer)
  }
}
