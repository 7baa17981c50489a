// Durations in definitions and flags: a number is milliseconds; a string is one or
// more `<number><unit>` parts (`200ms`, `1.5s`, `5m`, `1h`, `1d`, `1m30s`, `3m 05s`),
// so whatever formatDuration prints can be pasted back. A bare numeric string
// ("500") is milliseconds, because JSON and YAML users both write it that way.

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

const PART = /(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)/y
const EXAMPLES = 'expected milliseconds or a string like 200ms, 10s, 5m, 1h, 1d'

export function parseDuration(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new Error(`invalid duration ${String(v)}: ${EXAMPLES}`)
    return Math.round(v)
  }
  if (typeof v !== 'string') throw new Error(`invalid duration: ${EXAMPLES}`)
  const text = v.trim()
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text))

  let total = 0
  let pos = 0
  let parts = 0
  while (pos < text.length) {
    PART.lastIndex = pos
    const m = PART.exec(text)
    if (!m) throw new Error(`invalid duration "${v}": ${EXAMPLES}`)
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number)
    parts++
    pos = PART.lastIndex
    while (text[pos] === ' ') pos++
  }
  if (parts === 0 || !Number.isFinite(total)) throw new Error(`invalid duration "${v}": ${EXAMPLES}`)
  return Math.round(total)
}

const pad2 = (n: number): string => String(n).padStart(2, '0')

// Two significant units at most: an operator reading a table wants "3m 05s", not
// "185342ms"; components are truncated so the display never overstates elapsed time.
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  if (ms < 0) return `-${formatDuration(-ms)}`
  if (ms < 1000) return `${Math.round(ms)}ms`
  const tenths = Math.floor(ms / 100)
  if (tenths < 600) {
    const s = tenths / 10
    return `${Number.isInteger(s) ? s : s.toFixed(1)}s`
  }
  const totalSec = Math.floor(ms / 1000)
  if (totalSec < 3600) return `${Math.floor(totalSec / 60)}m ${pad2(totalSec % 60)}s`
  const totalMin = Math.floor(totalSec / 60)
  if (totalMin < 1440) return `${Math.floor(totalMin / 60)}h ${pad2(totalMin % 60)}m`
  const totalHours = Math.floor(totalMin / 60)
  return `${Math.floor(totalHours / 24)}d ${totalHours % 24}h`
}

const PERIOD_UNITS: Array<[string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
]

/** A period as it would be typed: `30d`, `36h`, `90m`; durations that are no whole unit read as formatDuration says. */
export function formatPeriod(ms: number): string {
  for (const [unit, size] of PERIOD_UNITS) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return formatDuration(ms)
}
