import Table from 'cli-table3'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { plainTable, table } from '../../src/cli/render.js'

/** What table() printed when cli-table3 laid out every table. */
function byCliTable3(head: string[], rows: string[][]): string {
  const t = new Table({
    head,
    style: { head: [], border: [], compact: true },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  })
  t.push(...rows)
  return t.toString()
}

const ASCII = fc.constantFrom('a', 'Z', '0', ' ', '-', '@', '~', '|', 'HTTP 409: refused')
// Colours as chalk writes them (each closed), and codes cli-table3 would carry to the next line.
const CLOSED = fc.constantFrom('\u001b[32mcompleted\u001b[39m', '\u001b[1mid\u001b[22m', '\u001b[90mpending\u001b[39m', '\u001b[41m!\u001b[49m', '\u001b[1m\u001b[31mx\u001b[39m\u001b[22m', '\u001b[3mx\u001b[0m')
const OPEN = fc.constantFrom('\u001b[32m', '\u001b[1m', '\u001b[38;5;200m', '\u001b[m', '\u001b[39;1m', '\u001b[4m')
const OTHER = fc.constantFrom('\n', '界', '🙂', 'e\u0301', '\t', '\u001b]8;;http://x\u0007')

const cell = (parts: fc.Arbitrary<string>) => fc.array(parts, { maxLength: 4 }).map((p) => p.join(''))
const tables = (parts: fc.Arbitrary<string>) =>
  fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(fc.array(cell(parts), { minLength: n, maxLength: n }), fc.array(fc.array(cell(parts), { minLength: n, maxLength: n }), { maxLength: 5 })))

describe('table', () => {
  it('lays out plain tables itself, exactly as cli-table3 did', () => {
    fc.assert(
      fc.property(tables(fc.oneof(ASCII, CLOSED)), ([head, rows]) => {
        const own = plainTable([head, ...rows])
        expect(own).toBeDefined()
        expect(own).toBe(byCliTable3(head, rows))
        expect(table(head, rows)).toBe(own)
      }),
      { numRuns: 300 },
    )
  })

  it('prints any table as cli-table3 did: wide characters, several lines, colours left open', () => {
    fc.assert(
      fc.property(tables(fc.oneof(ASCII, CLOSED, OPEN, OTHER)), ([head, rows]) => {
        expect(table(head, rows)).toBe(byCliTable3(head, rows))
      }),
      { numRuns: 500 },
    )
  })

  it('leaves wide characters and colours that run on to cli-table3', () => {
    expect(plainTable([['a'], ['界']])).toBeUndefined()
    expect(plainTable([['a'], ['\u001b[32mgreen']])).toBeUndefined()
    expect(plainTable([['a'], ['two\nlines']])).toBeUndefined()
    expect(table(['name', 'n'], [['x', 1], [null, undefined]])).toBe(byCliTable3(['name', 'n'], [['x', '1'], ['', '']]))
  })
})
