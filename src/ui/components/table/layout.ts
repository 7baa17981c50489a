import { pad } from '../../format.js'

export interface Column<R> {
  title: string
  /** Width it gets when there is room; grown columns start here. A `fit` column's widest. */
  width: number
  /** Narrowest it may shrink to; defaults to `width` (fixed). */
  min?: number
  /** Share of the spare width; 0 = fixed. */
  grow?: number
  /**
   * As wide as its widest cell (or its title), between `min` and `width`: names such as
   * definitions and steps. Cut only after the free text (grown columns) is at its minimum.
   */
  fit?: boolean
  align?: 'left' | 'right'
  /** Dropped first, from the right, when the rest would not fit with the free text at its minimum. */
  optional?: boolean
  cell: (row: R) => string
  color?: (row: R) => string | undefined
}

export interface Placed<R> {
  column: Column<R>
  width: number
}

export const MARKER_WIDTH = 2

const floor = <R>(c: Column<R>): number => c.min ?? c.width
const isFreeText = <R>(c: Column<R>): boolean => (c.grow ?? 0) > 0 && !c.fit

/**
 * Fits columns into a width. Names (`fit` columns) get the width their cells need, free
 * text takes what is left. When that does not fit: optional columns go first, then the
 * free text shrinks to its minimum, then names, widest first, to theirs.
 */
export function fitColumns<R>(columns: ReadonlyArray<Column<R>>, width: number, rows: readonly R[] = []): Array<Placed<R>> {
  const wanted = (c: Column<R>): number => {
    if (!c.fit) return c.width
    const widest = rows.reduce((n, r) => Math.max(n, c.cell(r).length), c.title.length)
    return Math.min(c.width, Math.max(floor(c), widest))
  }
  const gaps = (n: number): number => Math.max(0, n - 1) + MARKER_WIDTH
  const need = (cs: Array<Column<R>>, size: (c: Column<R>) => number): number => cs.reduce((n, c) => n + size(c), 0) + gaps(cs.length)
  let cols = [...columns]
  // Optional columns give way before a name is cut or the free text goes under its minimum.
  while (need(cols, (c) => (isFreeText(c) ? floor(c) : wanted(c))) > width) {
    const i = cols.map((c) => c.optional === true).lastIndexOf(true)
    if (i < 0) break
    cols = cols.filter((_, j) => j !== i)
  }
  const widths = cols.map(wanted)
  let spare = width - need(cols, wanted)
  const indexed = cols.map((c, i) => ({ c, i }))
  const growers = indexed.filter(({ c }) => isFreeText(c))
  if (spare < 0) {
    for (const group of [growers, indexed.filter(({ c }) => c.fit)]) {
      while (spare < 0) {
        const candidates = group.filter(({ c, i }) => widths[i]! > floor(c))
        if (candidates.length === 0) break
        const widest = candidates.reduce((a, b) => (widths[b.i]! > widths[a.i]! ? b : a))
        widths[widest.i]!--
        spare++
      }
    }
  } else if (growers.length > 0) {
    const total = growers.reduce((n, { c }) => n + (c.grow ?? 0), 0)
    let given = 0
    for (const { c, i } of growers) {
      const share = Math.floor((spare * (c.grow ?? 0)) / total)
      widths[i]! += share
      given += share
    }
    widths[growers[growers.length - 1]!.i]! += spare - given
  }
  return cols.map((column, i) => ({ column, width: Math.max(0, widths[i]!) }))
}

export function headerLine<R>(placed: Array<Placed<R>>): string {
  return ' '.repeat(MARKER_WIDTH) + placed.map(({ column, width }) => pad(column.title, width, column.align)).join(' ')
}
