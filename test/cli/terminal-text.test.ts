import { describe, expect, it } from 'vitest'
import { displaySafe, terminalSafe, terminalSafeJson, terminalSafeLine } from '../../src/cli/terminal-text.js'

describe('terminal-safe text', () => {
  it('shows every control character as its escape and keeps the rest of the text', () => {
    expect(terminalSafe('a\u001b]0;t\u0007b')).toBe('a\\x1b]0;t\\x07b')
    expect(terminalSafe('ok\rFAKE\b')).toBe('ok\\x0dFAKE\\x08')
    expect(terminalSafe('8-bit \u009b2J and \u202eevil')).toBe('8-bit \\x9b2J and \\u202eevil')
    expect(terminalSafe('zürich 東京 ✓\ttab\nline')).toBe('zürich 東京 ✓\ttab\nline')
  })

  it('lets colour through only when asked, and only colour', () => {
    expect(terminalSafe('\u001b[31mred\u001b[39m')).toBe('\\x1b[31mred\\x1b[39m')
    expect(terminalSafe('\u001b[31mred\u001b[39m', { keepColor: true })).toBe('\u001b[31mred\u001b[39m')
    expect(terminalSafe('\u001b[2J\u001b[31m', { keepColor: true })).toBe('\\x1b[2J\u001b[31m')
  })

  it('one line: newlines cannot forge a line of their own', () => {
    expect(terminalSafeLine('boom\nerror: all good')).toBe('boom\\nerror: all good')
  })

  it('JSON stays the same data', () => {
    const value = { e: 'x\u001b[2J\u009b\u202e\u2028y', n: [1, null] }
    const text = terminalSafeJson(value, 2)
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2028]/)
    expect(JSON.parse(text)).toEqual(value)
  })

  it('display data: every string inside, dates untouched', () => {
    const at = new Date()
    expect(displaySafe({ a: ['\u001b[2J'], at, n: 1, z: null })).toEqual({ a: ['\\x1b[2J'], at, n: 1, z: null })
  })
})
