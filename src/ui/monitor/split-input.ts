import type { Key } from 'ink'

const NO_KEY: Partial<Key> = {}

/**
 * Ink hands over a chunk of several characters as one input: a paste, fast typing, or
 * `tmux send-keys r Enter`. Screen keys are single characters, so such a chunk is cut
 * into keys: control characters become the keys they stand for; a run of printable
 * characters is kept whole when it goes into a text field (`asText`), split otherwise.
 */
export function* splitInput(input: string, asText: () => boolean): Generator<{ input: string; key: Partial<Key> }> {
  // A generator, so `asText` is asked only after the previous key has been handled.
  let i = 0
  while (i < input.length) {
    const ch = input[i]!
    const code = ch.charCodeAt(0)
    if (ch === '\r' || ch === '\n') yield { input: '', key: { return: true } }
    else if (ch === '\t') yield { input: '', key: { tab: true } }
    else if (ch === '\u007f' || ch === '\b') yield { input: '', key: { backspace: true } }
    else if (code < 32) yield { input: String.fromCharCode(code + 96), key: { ctrl: true } }
    else {
      let end = i + 1
      while (end < input.length && input.charCodeAt(end) >= 32 && input[end] !== '\u007f') end++
      const run = input.slice(i, end)
      if (asText()) yield { input: run, key: NO_KEY }
      else for (const c of run) yield { input: c, key: /[A-Z]/.test(c) ? { shift: true } : NO_KEY }
      i = end
      continue
    }
    i++
  }
}
