import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatDuration, formatPeriod, parseDuration } from '../../src/engine/duration.js'

describe('parseDuration', () => {
  it.each([
    [250, 250],
    ['200ms', 200],
    ['10s', 10_000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['500', 500],
    [' 2s ', 2000],
    ['1m30s', 90_000],
    ['3m 05s', 185_000],
    ['0', 0],
    ['.5s', 500],
  ] as const)('%j -> %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it.each(['', 'abc', '10x', '5 minutes', '-1s', 's', '1.2.3s', '10s garbage', '1e3ms'])(
    'rejects %j with a message naming the input and the expected format',
    (input) => {
      expect(() => parseDuration(input)).toThrow(`invalid duration "${input}": expected milliseconds or a string like 200ms`)
    },
  )

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('rejects the number %d', (n) => {
    expect(() => parseDuration(n)).toThrow(/invalid duration/)
  })
})

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1234, '1.2s'],
    [59_999, '59.9s'],
    [60_000, '1m 00s'],
    [185_000, '3m 05s'],
    [7_800_000, '2h 10m'],
    [3 * 86_400_000 + 4 * 3_600_000 + 59 * 60_000, '3d 4h'],
    [-1500, '-1.5s'],
  ])('%d -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })

  it('prints something parseDuration reads back, never overstating the value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 * 86_400_000 }), (ms) => {
        const back = parseDuration(formatDuration(ms))
        expect(back).toBeLessThanOrEqual(ms)
      }),
    )
  })
})

describe('formatPeriod', () => {
  it('reads as it was typed: the largest whole unit', () => {
    expect(formatPeriod(30 * 86_400_000)).toBe('30d')
    expect(formatPeriod(36 * 3_600_000)).toBe('36h')
    expect(formatPeriod(90 * 60_000)).toBe('90m')
    expect(formatPeriod(45_000)).toBe('45s')
    expect(formatPeriod(1500)).toBe('1.5s')
    expect(formatPeriod(0)).toBe('0ms')
  })
})
