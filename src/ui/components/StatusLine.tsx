import { Text } from 'ink'
import type { StatusMessage } from '../monitor/state.js'

const COLORS: Record<StatusMessage['kind'], string | undefined> = { ok: 'green', error: 'red', info: undefined }

const HINT = '? help · q quit · ↑↓ select · Enter open · r retry · c compensate · k skip · a abort · v resolve'

/** The bottom line: the action in progress or its result, any read problem, else the key hint. Renders only. */
export function StatusLine({ status, problem, busy }: { status: StatusMessage | null; problem: string | null; busy: string | null }) {
  const first = busy ? { text: busy, color: 'yellow' } : status ? { text: status.text, color: COLORS[status.kind] } : null
  if (!first && !problem) return <Text wrap="truncate" dimColor>{HINT}</Text>
  // A read problem stays visible next to an action's result: the data on screen may be stale.
  return (
    <Text wrap="truncate">
      {first ? <Text color={first.color}>{first.text}</Text> : null}
      {first && problem ? <Text dimColor>{' │ '}</Text> : null}
      {problem ? <Text color="red">{problem}</Text> : null}
    </Text>
  )
}
