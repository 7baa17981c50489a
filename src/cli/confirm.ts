import { createInterface } from 'node:readline'
import { UsageError } from '../errors.js'

export interface PromptIO {
  input: NodeJS.ReadableStream
  output: NodeJS.WritableStream
}

/** Whether someone can answer a prompt: stdin is a terminal, not a pipe or /dev/null. */
export function canPrompt(input: NodeJS.ReadableStream = process.stdin): boolean {
  return (input as { isTTY?: boolean }).isTTY === true
}

/**
 * Asks a yes/no question on stderr. Only "y" or "yes" is yes: Enter, end of input and
 * Ctrl-C all mean no, so a slip of the hand never starts a bulk action.
 */
export function confirm(question: string, io: PromptIO = { input: process.stdin, output: process.stderr }): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: io.input, output: io.output })
    let settled = false
    const finish = (yes: boolean) => {
      if (settled) return
      settled = true
      rl.close()
      resolve(yes)
    }
    // Without a listener readline only pauses on Ctrl-C, leaving the prompt hanging.
    rl.on('SIGINT', () => {
      io.output.write('\n')
      finish(false)
    })
    rl.on('close', () => finish(false))
    rl.question(`${question} [y/N] `, (answer) => finish(/^y(es)?$/i.test(answer.trim())))
  })
}

/**
 * The gate in front of a destructive command: `--yes` acts; otherwise a person at a
 * terminal is asked, and without one (cron, a pipe) the command refuses rather than act
 * unasked. False when the person said no.
 */
export async function confirmOrRefuse(question: string, opts: { yes: boolean; what: string }): Promise<boolean> {
  if (opts.yes) return true
  if (!canPrompt()) throw new UsageError(`refusing to act on ${opts.what} without --yes (stdin is not a terminal)`)
  if (await confirm(question)) return true
  process.stderr.write('cancelled: nothing changed\n')
  return false
}
