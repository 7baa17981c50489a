import { createRequire } from 'node:module'
import chalk from 'chalk'

/** Colour only for people: chalk already turns itself off for NO_COLOR and a non-TTY stdout. */
export const color = chalk

type Cell = string | number | null | undefined

/**
 * A boxed table: a bold head, then one line per row, columns as wide as their widest cell.
 * Cells of printable ASCII (colour codes aside) on one line each, as nearly every table
 * is, are laid out here; any other table goes to cli-table3, which does the same layout
 * with wide characters and multi-line cells too, but takes longer for fifty rows than
 * the rest of `saga list` (test/cli/render.test.ts holds both to the same output).
 */
export function table(head: string[], rows: Cell[][]): string {
  const cells = [head.map((h) => color.bold(h)), ...rows.map((row) => row.map((c) => (c === null || c === undefined ? '' : String(c))))]
  return plainTable(cells) ?? cliTable3(cells)
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

type CliTable3 = new (options: object) => { push(...rows: string[][]): number; toString(): string }

function cliTable3(cells: string[][]): string {
  const Table = createRequire(import.meta.url)('cli-table3') as CliTable3
  const t = new Table({
    head: cells[0],
    style: { head: [], border: [], compact: true },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  })
  t.push(...cells.slice(1))
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
