import { Box, Text } from 'ink'

const KEYS: Array<[string, string]> = [
  ['1-6, Tab', 'views: live, stuck, interventions, definitions, failure groups, participants'],
  ['↑ ↓ PgUp PgDn Home End', 'move the selection'],
  ['Enter', 'open the saga (definitions: show its sagas)'],
  ['Esc', 'back; clear the message'],
  ['/', 'live: filter by id prefix or text; key:K, tag:k=v, input.a.b=v search'],
  ['s / d', 'live: cycle the status / definition filter'],
  ['r', 'retry the failed step now'],
  ['c', 'compensate (shows the plan)'],
  ['k', 'skip a failed step (default: the current one)'],
  ['a', 'abort: mark failed without compensating'],
  ['v', 'resolve the open intervention'],
  ['f', 'fork: a new saga from a step, keeping the outputs before it (shows the plan)'],
  ['m', 'move the saga to another definition version (shows the plan)'],
  ['R / C', 'failure groups: retry / compensate the whole group'],
  ['p / u', 'participants: pause / resume the selected one'],
  ['?', 'this help'],
  ['q, Ctrl-C', 'quit'],
]

/** The key list, in place of the table while open. Renders only. */
export function HelpOverlay({ width, height }: { width: number; height: number }) {
  const keyWidth = Math.max(...KEYS.map(([k]) => k.length))
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold>Keys</Text>
      {KEYS.slice(0, Math.max(0, height - 2)).map(([k, what]) => (
        <Text key={k} wrap="truncate">
          <Text color="cyan">{k.padEnd(keyWidth)}</Text> {what}
        </Text>
      ))}
      <Text dimColor wrap="truncate">
        Every action asks for confirmation and a reason, and is recorded in the audit log.
      </Text>
    </Box>
  )
}
