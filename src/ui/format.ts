/** Text helpers for a fixed-width terminal: every cell is cut to fit, never wrapped. */

/**
 * The first 13 characters: a UUIDv7 starts with its millisecond timestamp, so 8 would
 * show the same id for every saga started in the same minute or so. Any prefix is
 * accepted by the commands, so the operator can copy it.
 */
export function shortId(id: string): string {
  return id.slice(0, 13)
}

/** Coarse age for tables and reasons: `45s`, `12m`, `3h`, `2d`. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h`
  return `${Math.floor(h / 24)}d`
}

/** One line: the first line of a multi-line message, with runs of whitespace collapsed. */
export function oneLine(text: string | null | undefined): string {
  if (!text) return ''
  return text.split('\n', 1)[0]!.replace(/\s+/g, ' ').trim()
}

export function truncate(text: string, width: number): string {
  if (width <= 0) return ''
  if (text.length <= width) return text
  if (width === 1) return '…'
  return `${text.slice(0, width - 1)}…`
}

export function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const cut = truncate(text, width)
  return align === 'left' ? cut.padEnd(width) : cut.padStart(width)
}

export function percent(rate: number | null): string {
  if (rate === null) return '-'
  return `${(rate * 100).toFixed(rate >= 0.9995 || rate === 0 ? 0 : 1)}%`
}

export function clockTime(d: Date): string {
  return d.toTimeString().slice(0, 8)
}

const MESSAGE_FIELDS = ['error', 'code', 'message', 'reason', 'detail', 'title', 'description'] as const

/**
 * What a person reads first in an error: `HTTP 500: {"error":"card_declined","message":"…"}`
 * becomes `HTTP 500 card_declined: …`, the body's words without its JSON punctuation.
 * Anything else is returned as it is. The full text stays in the detail pane.
 */
export function readableError(text: string): string {
  const m = /^(HTTP [\d#]+)(?: [^:{[]*)?: *([[{][\s\S]*)$/.exec(text)
  if (!m) return text
  const [, status, body] = m as unknown as [string, string, string]
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    // A body cut at the snippet limit is not JSON any more: keep its words.
    const words = body
      .replace(/"\s*([:,])\s*"?/g, '$1 ')
      .replace(/[{}[\]"]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
    return words ? `${status} ${words}` : status
  }
  const record = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined)
  const top = record(parsed)
  const words: string[] = []
  for (const source of [top, record(top?.error)]) {
    for (const field of MESSAGE_FIELDS) {
      const v = source?.[field]
      if ((typeof v === 'string' && v.trim()) || typeof v === 'number') words.push(String(v).trim())
    }
  }
  const unique = [...new Set(words)]
  return unique.length > 0 ? `${status} ${unique.join(': ')}` : `${status}: ${oneLine(body)}`
}
