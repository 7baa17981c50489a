import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { render } from 'ink'
import type { Database } from '../db/types.js'
import type { OperatorActions } from '../engine/actions.js'
import { UsageError } from '../errors.js'
import { consoleData } from './replica-data.js'
import { Monitor } from './screens/Monitor.js'

export interface RunMonitorOptions {
  /** Primary: change notifications are only delivered here. */
  db: Database
  /** Where the console's reads go when a replica is configured (`--read-database-url`). */
  readDb?: Database
  actions: OperatorActions
  operator: string
  refreshMs?: number
  stuckAfterMs?: number
  stdin?: NodeJS.ReadStream
  stdout?: NodeJS.WriteStream
}

/**
 * The console keeps a small live set (bounded queries, one screen of rows), but V8 sizes
 * its heap for throughput and lets the garbage of every refresh pile up to about 150 MB
 * before it collects. A console left open on a shared host should stay small, so a full
 * collection runs every few seconds; it takes a few milliseconds on a heap this size.
 */
function trimHeapEvery(ms: number): () => void {
  let gc: (() => void) | undefined
  try {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  } catch {
    return () => {}
  }
  const timer = setInterval(() => gc?.(), ms)
  timer.unref()
  return () => clearInterval(timer)
}

const ENTER_ALT_SCREEN = '\u001B[?1049h\u001B[H'
const LEAVE_ALT_SCREEN = '\u001B[?1049l'

/**
 * Runs `sagactl monitor` until the operator quits. Draws on the terminal's alternate
 * screen, so the shell's scrollback comes back intact on q, Ctrl-C, SIGTERM or a crash.
 * The caller keeps ownership of the databases and closes them afterwards.
 */
export async function runMonitor(opts: RunMonitorOptions): Promise<void> {
  const stdout = opts.stdout ?? process.stdout
  const stdin = opts.stdin ?? process.stdin
  if (!stdout.isTTY || !stdin.isTTY) throw new UsageError('monitor needs a terminal', 'for scripts: sagactl monitor --json (one snapshot), or sagactl saga list')

  const data = consoleData(opts.db, opts.readDb)
  const listen = (handler: (payload: string) => void) => opts.db.listen(handler)

  stdout.write(ENTER_ALT_SCREEN)
  const restore = () => stdout.write(LEAVE_ALT_SCREEN)
  process.once('exit', restore)
  const app = render(
    <Monitor data={data} listen={listen} actions={opts.actions} operator={opts.operator} refreshMs={opts.refreshMs} stuckAfterMs={opts.stuckAfterMs} />,
    { stdout, stdin, exitOnCtrlC: false, maxFps: 10, patchConsole: true },
  )
  const stopTrimming = trimHeapEvery(2_000)
  const stop = () => app.unmount()
  process.once('SIGTERM', stop)
  process.once('SIGHUP', stop)
  try {
    await app.waitUntilExit()
  } finally {
    stopTrimming()
    process.off('SIGTERM', stop)
    process.off('SIGHUP', stop)
    process.off('exit', restore)
    restore()
  }
}
