import chalk from 'chalk'
import Table from 'cli-table3'

/** Colour only for people: chalk already turns itself off for NO_COLOR and a non-TTY stdout. */
export const color = chalk

export function table(head: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const t = new Table({
    head: head.map((h) => color.bold(h)),
    style: { head: [], border: [], compact: true },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  })
  for (const row of rows) t.push(row.map((c) => (c === null || c === undefined ? '' : String(c))))
  return t.toString()
}

const STATUS_COLORS: Record<string, (s: string) => string> = {
  pending: color.gray,
  running: color.cyan,
  compensating: color.yellow,
  suspended: color.magenta,
  completed: color.green,
  compensated: color.yellow,
  failed: color.red,
  succeeded: color.green,
  skipped: color.gray,
  applied: color.green,
  drift: color.red,
  unknown: color.red,
  open: color.magenta,
  resolved: color.green,
}

export function status(s: string): string {
  return (STATUS_COLORS[s] ?? ((x: string) => x))(s)
}

export function isoOrEmpty(d: Date | string | null | undefined): string {
  if (!d) return ''
  return (d instanceof Date ? d : new Date(d)).toISOString()
}
