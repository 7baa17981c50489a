import { createRequire } from 'node:module'
import { stripVTControlCharacters } from 'node:util'
import chalk from 'chalk'

/** Colour only for people: chalk already turns itself off for NO_COLOR and a non-TTY stdout. */
export const color = chalk

type Cell = string | number | null | undefined

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

/**
 * A boxed table: a bold head, then one line per row, columns as wide as their widest cell,
 * fitted to `width` (the terminal's) by wrapping when it would not fit. A table that fits,
 * with cells of printable ASCII (colour codes aside) on one line each, as nearly every
 * table is, is laid out here; any other goes to cli-table3, which does the same layout with
 * wide characters, multi-line cells and wrapping too, but takes longer for fifty rows than
 * the rest of `saga list` (test/cli/render.test.ts holds both to the same output).
 */
export function table(head: string[], rows: Cell[][], opts: TableOptions = {}): string {
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
  const bold = titles.map((h) => color.bold(h))
  return (fit ? undefined : plainTable([bold, ...cells])) ?? cliTable3(bold, cells, fit)
}

/** cli-table3's pattern for the colour codes it ignores when it measures a cell. */
const SGR = /\u001b\[((?:\d*;){0,5}\d*)m/g
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/
// The styles cli-table3 re-opens on a cell's next line and closes at the end of a line.
const STYLES = new Map<string, { style: number; on: boolean }>(
  [1, 3, 4, 7, 9].flatMap((style) => [
    [`\u001b[${style}m`, { style, on: true }],
    [`\u001b[${style === 1 ? 22 : style + 20}m`, { style, on: false }],
  ]),
)

/** The cell's width, or undefined unless it is one line of printable ASCII whose colours all end in it. */
function plainWidth(cell: string): number | undefined {
  let foreground = false
  let background = false
  const open = new Set<number>()
  for (const [code, params] of cell.matchAll(SGR)) {
    const n = params ? Number.parseInt(params.split(';')[0] ?? '', 10) : 0
    if ((n >= 30 && n <= 39) || (n >= 90 && n <= 97)) foreground = code !== '\u001b[39m'
    else if ((n >= 40 && n <= 49) || (n >= 100 && n <= 107)) background = code !== '\u001b[49m'
    else if (n === 0) {
      foreground = background = false
      open.clear()
    } else {
      const style = STYLES.get(code)
      if (style?.on) open.add(style.style)
      else if (style) open.delete(style.style)
    }
  }
  if (foreground || background || open.size) return undefined
  const text = cell.replace(SGR, '')
  return PRINTABLE_ASCII.test(text) ? text.length : undefined
}

/** The table laid out here, or undefined when cli-table3 must do it (exported for its test). */
export function plainTable(cells: string[][]): string | undefined {
  const columns = cells[0]?.length ?? 0
  if (!columns || cells.some((row) => row.length !== columns)) return undefined
  const measured: number[][] = []
  for (const row of cells) {
    const line: number[] = []
    for (const cell of row) {
      const w = plainWidth(cell)
      if (w === undefined) return undefined
      line.push(w)
    }
    measured.push(line)
  }
  const widths = measured.reduce((max, line) => max.map((m, i) => Math.max(m, line[i] ?? 0)), new Array<number>(columns).fill(0))
  const rule = (left: string, mid: string, right: string) => left + widths.map((w) => '─'.repeat(w + 2)).join(mid) + right
  const lines = [rule('┌', '┬', '┐')]
  cells.forEach((row, r) => lines.push(`│${row.map((c, i) => ` ${c}${' '.repeat((widths[i] ?? 0) - (measured[r]?.[i] ?? 0))} `).join('│')}│`))
  lines.push(rule('└', '┴', '┘'))
  return lines.join('\n')
}

type CliTable3 = new (options: object) => { push(...rows: Array<Array<string | { content: string; wrapOnWordBoundary: boolean }>>): number; toString(): string }

function cliTable3(head: string[], cells: string[][], fit: Fitted | undefined): string {
  const Table = createRequire(import.meta.url)('cli-table3') as CliTable3
  const t = new Table({
    head,
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
