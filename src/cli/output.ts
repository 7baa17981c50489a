import { format } from 'node:util'
import { color } from './render.js'
import { terminalSafe, terminalSafeJson } from './terminal-text.js'

/**
 * The one way the CLI writes for people and for programs. Lines for people are made
 * terminal-safe here (colour sequences pass only when the CLI colours its own output);
 * JSON is written whole, without oclif's colouriser, whose regular expressions overflow
 * the stack on a document of a few megabytes.
 *
 * Nothing here waits for a flush with a time limit: Node writes what is buffered before
 * the process exits, however slowly the reader takes it. `write` resolves once the stream
 * accepts more, so a long stream (`saga events --follow`) keeps step with its reader
 * instead of buffering without bound.
 */
export function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  if (stream.write(text)) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done)
      stream.off('close', done)
      stream.off('error', done)
      resolve()
    }
    stream.once('drain', done)
    stream.once('close', done)
    stream.once('error', done)
  })
}

/** A line for a person (printf-style arguments as console.log takes them). */
export function line(stream: NodeJS.WriteStream, message: unknown = '', ...args: unknown[]): Promise<void> {
  const text = typeof message === 'string' && args.length === 0 ? message : format(message, ...args)
  return write(stream, `${terminalSafe(text, { keepColor: color.level > 0 })}\n`)
}

/** Shorthand for stderr lines: progress, warnings, worker logs. */
export function errLine(message: string): Promise<void> {
  return line(process.stderr, message)
}

/** One JSON document, pretty-printed; or one NDJSON line with `{ compact: true }`. */
export function json(value: unknown, opts: { compact?: boolean } = {}): Promise<void> {
  return write(process.stdout, `${terminalSafeJson(value, opts.compact ? undefined : 2)}\n`)
}
