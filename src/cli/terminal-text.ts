/**
 * Text that came from outside (participants' bodies and errors, operators' flags,
 * definitions, ids typed on the command line) must never drive the operator's terminal:
 * an ESC starts a sequence that can retitle the window, clear the screen, move the
 * cursor or plant a hyperlink; CR and BS overwrite what was printed; C1 controls (U+0080
 * to U+009F) act as ESC sequences on some terminals; bidirectional overrides reorder what
 * is read ("Trojan Source").
 *
 * Each such character is shown as its escape (`\x1b`, `\u202e`) rather than dropped, so
 * an operator sees that a participant sent one; `--json` keeps the data as stored.
 * Libraries like strip-ansi remove only well-formed sequences and leave a lone ESC, CR,
 * BEL or C1 byte in place, so this is the whole rule, in one place.
 */
// Newline and tab are kept: tables and multi-line blocks are made of them.
// eslint-disable-next-line no-control-regex
const UNSAFE = /\u001b\[[0-9;]*m|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

function escapeChar(c: string): string {
  const code = c.charCodeAt(0)
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * `keepColor` lets colour sequences (SGR, `ESC [ … m`) through: the CLI's own colouring,
 * on only when stdout is a colour terminal. Nothing else passes, whatever its source.
 */
export function terminalSafe(text: string, opts: { keepColor?: boolean } = {}): string {
  return text.replace(UNSAFE, (m) => (m.length > 1 ? (opts.keepColor ? m : `\\x1b${m.slice(1)}`) : escapeChar(m)))
}

/** For one table cell or one line: also newlines, so a value cannot start a fake line of its own. */
export function terminalSafeLine(text: string, opts: { keepColor?: boolean } = {}): string {
  return terminalSafe(text.replace(/\r?\n/g, '\\n'), opts)
}

// JSON.stringify already escapes U+0000 to U+001F; these are the rest, escaped the JSON
// way so the document still parses to exactly the same data.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** A JSON text safe to print on a terminal, equal as data to `JSON.stringify(value)`. */
export function terminalSafeJson(value: unknown, indent?: number): string {
  return (JSON.stringify(value, null, indent) ?? 'null').replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** The same value with every string in it made terminal-safe (one line each): for views with no JSON form. */
export function displaySafe<T>(value: T): T {
  if (typeof value === 'string') return terminalSafeLine(value) as T
  if (Array.isArray(value)) return value.map(displaySafe) as T
  if (value === null || typeof value !== 'object' || value instanceof Date) return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, displaySafe(v)])) as T
}
