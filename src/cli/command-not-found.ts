// A mistyped command: one line and exit 2 (a usage error, as SPEC's exit codes say), with
// the nearest command suggested. On a terminal it asks first, as oclif's plugin-not-found
// did, and runs the suggestion on yes.
import { createInterface } from 'node:readline/promises'
import { type Hook, toConfiguredId } from '@oclif/core'
import { ExitCode } from '../errors.js'
import { terminalSafeJson, terminalSafeLine } from './terminal-text.js'

/** Edit distance between two command ids (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]!
}

/**
 * The command closest to what was typed, and how many of the typed words it stands for
 * (oclif joins the words it could not place, arguments included, into one id). Undefined
 * when none is close: more than half of the words would change.
 */
export function closestCommand(typedId: string, ids: readonly string[]): { id: string; words: number } | undefined {
  const typed = typedId.split(':')
  let best: { id: string; words: number; d: number } | undefined
  for (const id of ids) {
    const words = Math.min(typed.length, id.split(':').length)
    const head = typed.slice(0, words).join(':')
    const d = editDistance(head, id)
    if (d <= Math.max(2, Math.ceil(head.length / 2)) && (!best || d < best.d)) best = { id, words, d }
  }
  return best && { id: best.id, words: best.words }
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = (await rl.question(question)).trim().toLowerCase()
    return answer === '' || answer === 'y' || answer === 'yes'
  } catch {
    return false
  } finally {
    rl.close()
  }
}

const hook: Hook<'command_not_found'> = async function (opts) {
  const ids = opts.config.commands.filter((c) => !c.hidden).flatMap((c) => [c.id, ...c.aliases])
  const match = closestCommand(opts.id, ids)
  const bin = opts.config.bin
  const words = opts.id.split(':')
  const typed = toConfiguredId(words.slice(0, match?.words ?? 1).join(':'), opts.config)
  const argv = [...words.slice(match?.words ?? words.length), ...(opts.argv ?? [])]
  const json = argv.includes('--json')
  const suggestion = match && toConfiguredId(match.id, opts.config)
  if (match && !json && process.stdin.isTTY && process.stderr.isTTY) {
    if (await ask(`"${typed}" is not a ${bin} command. Did you mean ${suggestion}? [Y/n] `)) return opts.config.runCommand(match.id, argv)
  }
  const message = `"${typed}" is not a ${bin} command`
  const hint = `${suggestion ? `did you mean: ${bin} ${suggestion}? ` : ''}${bin} help lists them all`
  if (json) process.stdout.write(`${terminalSafeJson({ error: { code: 'usage', message, hint, exitCode: ExitCode.usage } }, 2)}\n`)
  process.stderr.write(`${terminalSafeLine(`error: ${message} — ${hint}`)}\n`)
  this.exit(ExitCode.usage)
}

export default hook
