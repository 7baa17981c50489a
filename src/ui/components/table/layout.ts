import { pad } from '../../format.js'

export interface Column<R> {
  title: string
  /** Width it gets when there is room; grown columns start here. */
  width: number
  /** Narrowest it may shrink to; defaults to `width` (fixed). */
  min?: number
  /** Share of the spare width; 0 = fixed. */
  grow?: number
  align?: 'left' | 'right'
  /** Dropped first, from the right, when even the minimum widths do not fit. */
  optional?: boolean
  cell: (row: R) => string
  color?: (row: R) => string | undefined
}

export interface Placed<R> {
  column: Column<R>
  width: number
}

export const MARKER_WIDTH = 2

/** Fits columns into a width: optional ones go first, then grown ones shrink, spare width goes to grown ones. */
export function fitColumns<R>(columns: ReadonlyArray<Column<R>>, width: number): Array<Placed<R>> {
  let cols = [...columns]
  const need = (cs: Array<Column<R>>, minimal: boolean): number =>
    cs.reduce((n, c) => n + (minimal ? (c.min ?? c.width) : c.width), 0) + Math.max(0, cs.length - 1) + MARKER_WIDTH
  while (need(cols, true) > width) {
    const i = cols.map((c) => c.optional === true).lastIndexOf(true)
    if (i < 0) break
    cols = cols.filter((_, j) => j !== i)
  }
  const widths = cols.map((c) => c.width)
  let spare = width - need(cols, false)
  const growers = cols.map((c, i) => ({ c, i })).filter(({ c }) => (c.grow ?? 0) > 0)
  if (spare < 0) {
    // Shrink the grown columns, widest first, down to their minimum.
    while (spare < 0) {
      const candidates = growers.filter(({ c, i }) => widths[i]! > (c.min ?? c.width))
      if (candidates.length === 0) break
      const widest = candidates.reduce((a, b) => (widths[b.i]! > widths[a.i]! ? b : a))
      widths[widest.i]!--
      spare++
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
