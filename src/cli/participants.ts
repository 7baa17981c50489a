import type { ParticipantSummary } from '../engine/participants/controls.js'
import { duration, truncate } from './format.js'
import { color, table } from './render.js'

const STATE_COLORS: Record<string, (s: string) => string> = {
  ok: color.green,
  paused: color.magenta,
  open: color.red,
  'half-open': color.yellow,
  limited: color.cyan,
}

export const participantStateText = (s: string): string => (STATE_COLORS[s] ?? ((x: string) => x))(s)

const pct = (v: number | null) => (v === null ? '' : `${Number((v * 100).toFixed(1))}%`)
const ms = (v: number | null) => (v === null ? '' : `≤${duration(v)}`)

/** The limits and circuit a participant runs under, in one short cell. */
export function controlsText(p: ParticipantSummary): string {
  const parts: string[] = []
  if (p.maxInFlight !== null) parts.push(`in flight ≤${p.maxInFlight}`)
  if (p.rps !== null) parts.push(`${p.rps}/s`)
  if (p.operatorRps !== null) parts.push(`operator ${p.operatorRps}/s`)
  if (p.circuit) parts.push(`circuit ${p.circuit.failures} in ${duration(p.circuit.within)}, cooldown ${duration(p.circuit.cooldown)}`)
  return parts.join(', ')
}

export function participantTable(items: ParticipantSummary[]): string {
  return table(
    ['participant', 'state', 'calls/min', 'errors', 'p50', 'p95', 'in flight', 'waiting', 'controls', 'paused because'],
    items.map((p) => [
      truncate(p.name, 40),
      participantStateText(p.state),
      p.callsLastMinute,
      pct(p.errorRate),
      ms(p.p50Ms),
      ms(p.p95Ms),
      p.inFlight,
      p.sagasWaiting,
      controlsText(p),
      p.paused ? truncate(`${p.paused.reason ?? ''} (${p.paused.by ?? '?'})`, 40) : '',
    ]),
  )
}
