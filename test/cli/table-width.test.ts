import { stripVTControlCharacters } from 'node:util'
import { describe, expect, it } from 'vitest'
import { table } from '../../src/cli/render.js'

const ID = '0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b'
const REASON = 'compensation of process-payment failed 5 times: HTTP 500: {"error":"ledger_unavailable","message":"The ledger is being migrated"}'
const lines = (text: string) => stripVTControlCharacters(text).split('\n')
/** A cell's text as the table shows it, lines joined back: what wrapping kept. */
const column = (text: string, i: number) =>
  lines(text)
    .slice(2, -1)
    .map((l) => l.split('│')[i + 1]!.trim())
    .filter(Boolean)
    .join(' ')

describe('CLI tables fit the terminal', () => {
  const interventions = () =>
    table(
      ['id', 'status', 'saga', 'definition', 'step', 'reason', 'opened', 'action'],
      [['0193a1b2-9f00', 'open', '0193a1b2-7c3d', 'order-checkout@3', 'process-payment (comp.)', REASON.slice(0, 50), '3m ago', '']],
      { width: 80 },
    )
  const why = (width: number) =>
    table(
      ['saga', 'result', 'why'],
      [
        [ID, 'refused', 'suspended in compensation: resolve the intervention (sagactl intervention resolve) or retry the compensation'],
        [ID, 'changed', 'revision 7 is now 8: someone acted on it meanwhile; look again'],
      ],
      { width },
    )

  for (const width of [80, 132]) {
    it(`${width} columns: no line is wider; the free text wraps, whole; ids and names are left whole`, () => {
      for (const out of [why(width), interventions(), table(['check', 'result', 'detail'], [['stock given back', 'OK', REASON]], { width })]) {
        for (const l of lines(out)) expect(l.length).toBeLessThanOrEqual(width)
      }
    const w = why(width)
      expect(column(w, 0)).toBe(`${ID} ${ID}`)
      expect(column(w, 2)).toContain('resolve the intervention (sagactl intervention resolve) or retry the compensation')
      // Eight columns do not fit 80 whole: what is wider than its column wraps onto more lines, none of it lost.
      const whole = (text: string) => text.replace(/\s+/g, '')
      expect(whole(column(interventions(), 3))).toBe('order-checkout@3')
      expect(whole(column(interventions(), 4))).toBe('process-payment(comp.)')
      expect(whole(column(interventions(), 5))).toBe(whole(REASON.slice(0, 50)))
      expect(whole(column(interventions(), 0))).toBe('0193a1b2-9f00')
    })
  }

  it('a table that fits is left as it is, and without a width (not a terminal) nothing is cut or wrapped', () => {
    const small = table(['a', 'b'], [['x', 'y z']], { width: 80 })
    expect(small).toBe(table(['a', 'b'], [['x', 'y z']], { width: undefined }))
    const full = lines(table(['saga', 'why'], [[ID, REASON]], { width: undefined }))
    expect(full[2]).toContain(REASON)
    expect(full[2]!.length).toBeGreaterThan(132)
  })
})
