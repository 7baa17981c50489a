import { Text } from 'ink'
import type { StatusMessage } from '../monitor/state.js'

const COLORS: Record<StatusMessage['kind'], string | undefined> = { ok: 'green', error: 'red', info: undefined }

/** The key hint, longest first: the first that fits is shown, so no key is ever cut off. */
const HINTS = [
  '? help · q quit · ↑↓ select · Enter open · r retry · c compensate · k skip · a abort · v resolve',
  '? help · q quit · ↑↓ Enter open · r retry · c compensate · k skip · a abort · v resolve',
  '? help  q quit  Enter open  r retry  c compensate  k skip  a abort  v resolve',
  '? help  q quit  r retry  c comp  k skip  a abort  v resolve',
  '? help · q quit',
]

export function keyHint(width: number): string {
  return HINTS.find((h) => h.length <= width) ?? HINTS[HINTS.length - 1]!
}

/** The bottom line: the action in progress or its result, any read problem, else the key hint. Renders only. */
export function StatusLine({ status, problem, busy, width }: { status: StatusMessage | null; problem: string | null; busy: string | null; width: number }) {
  const first = busy ? { text: busy, color: 'yellow' } : status ? { text: status.text, color: COLORS[status.kind] } : null
  if (!first && !problem) return <Text wrap="truncate" dimColor>{keyHint(width)}</Text>
  // A read problem stays visible next to an action's result: the data on screen may be stale.
  return (
    <Text wrap="truncate">
      {first ? <Text color={first.color}>{first.text}</Text> : null}
      {first && problem ? <Text dimColor>{' │ '}</Text> : null}
      {problem ? <Text color="red">{problem}</Text> : null}
    </Text>
  )
}
