import { stripVTControlCharacters } from 'node:util'
import chalk from 'chalk'
import Table from 'cli-table3'

/** Colour only for people: chalk already turns itself off for NO_COLOR and a non-TTY stdout. */
export const color = chalk

/**
 * The width tables are fitted to: the terminal's when stdout is one, none otherwise (a
 * pipe or a file gets every column at full width, for grep and for the record).
 */
export function terminalColumns(stream: { isTTY?: boolean; columns?: number } = process.stdout): number | undefined {
  if (!stream.isTTY) return undefined
  return stream.columns || Number(process.env.COLUMNS) || 80
}

export interface TableOptions {
  /** Fit into this many columns; default: the terminal's, or unlimited when stdout is not a terminal. */
  width?: number | undefined
}

export function table(head: string[], rows: Array<Array<string | number | null | undefined>>, opts: TableOptions = {}): string {
  let cells = rows.map((row) => row.map((c) => (c === null || c === undefined ? '' : String(c))))
  let titles = head
  const width = 'width' in opts ? opts.width : terminalColumns()
  let fit: Fitted | undefined
  if (width !== undefined) {
    // A column with nothing in it says nothing; it gives its width to the others.
    const used = titles.map((_, i) => cells.length === 0 || cells.some((r) => (r[i] ?? '') !== ''))
    if (used.includes(false)) {
      titles = titles.filter((_, i) => used[i])
      cells = cells.map((r) => r.filter((_, i) => used[i]))
    }
    fit = fitWidths(titles, cells, width)
  }
  const t = new Table({
    head: titles.map((h) => color.bold(h)),
    style: { head: [], border: [], compact: true },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    ...(fit ? { colWidths: fit.widths.map((w) => w + PADDING), wordWrap: true } : {}),
  })
  for (const row of cells) {
    // Free text wraps between words; a name, an id or a word wider than its column wraps anywhere: nothing is cut off.
    t.push(fit ? row.map((content, i) => (longestWord(content) > fit.widths[i]! ? { content, wrapOnWordBoundary: false } : content)) : row)
  }
  return t.toString()
}

/** Each column takes its text and one space either side, plus one border line between and around. */
const PADDING = 2
const visibleWidth = (text: string): number => Math.max(0, ...stripVTControlCharacters(text).split('\n').map((l) => l.length))
const longestWord = (text: string): number => Math.max(0, ...stripVTControlCharacters(text).split(/\s+/).map((w) => w.length))

export interface Fitted {
  /** Text width of each column, padding not included. */
  widths: number[]
}

/**
 * Column widths that fit `width`, or undefined when the table fits as it is. Free text (a
 * column with a space between words in some cell: reasons, errors, details) wraps first,
 * widest first, down to a readable minimum; then names and ids, widest first, down to
 * their title; only then anything further.
 */
export function fitWidths(head: string[], rows: string[][], width: number): Fitted | undefined {
  const n = head.length
  const natural = head.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ''))))
  let over = natural.reduce((a, b) => a + b + PADDING, 0) + n + 1 - width
  if (over <= 0) return undefined
  const free = head.map((_, i) => rows.some((r) => /\S\s+\S/.test(stripVTControlCharacters(r[i] ?? ''))))
  const title = head.map((h) => visibleWidth(h))
  const widths = [...natural]
  const passes: Array<{ applies: (i: number) => boolean; floor: (i: number) => number }> = [
    { applies: (i) => free[i]!, floor: (i) => Math.max(title[i]!, 10) },
    { applies: (i) => !free[i], floor: (i) => title[i]! },
    { applies: () => true, floor: () => 4 },
  ]
  for (const pass of passes) {
    while (over > 0) {
      let widest = -1
      for (let i = 0; i < n; i++) {
        if (pass.applies(i) && widths[i]! > Math.min(natural[i]!, pass.floor(i)) && (widest < 0 || widths[i]! > widths[widest]!)) widest = i
      }
      if (widest < 0) break
      widths[widest]!--
      over--
    }
  }
  return { widths }
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
