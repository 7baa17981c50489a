import { Box, Text } from 'ink'
import type { HeaderData } from '../data.js'
import { VIEW_TITLES, VIEWS, type ViewName } from '../views.js'
import { statusColor } from './colors.js'

/** Six tabs fit in 80 columns only with shorter titles. */
const NARROW_TITLES: Partial<Record<ViewName, string>> = { interventions: 'Interv.', definitions: 'Defs', groups: 'Failures', participants: 'Particip.' }

export interface HeaderProps {
  header: HeaderData | null
  view: ViewName
  width: number
}

function Count({ label, n, color }: { label: string; n: number; color?: string }) {
  return (
    <Text>
      {label} <Text color={n > 0 ? color : undefined}>{n}</Text>
    </Text>
  )
}

/** Three lines: where, workers and throughput; sagas by status; the view tabs. Renders only. */
export function Header({ header: h, view, width }: HeaderProps) {
  const narrow = width < 100
  const sep = <Text dimColor>{' │ '}</Text>
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold>sagactl monitor</Text>
        {sep}
        {h ? (
          <>
            <Text color={h.workers === 0 ? 'red' : 'green'}>{h.workers === 1 ? '1 worker' : `${h.workers} workers`}</Text>
            {sep}
            <Text>{h.finishedLastMinute}/min</Text>
            {sep}
            <Text color={h.openInterventions > 0 ? 'magenta' : undefined}>
              {h.openInterventions} {narrow ? 'interv.' : h.openInterventions === 1 ? 'intervention' : 'interventions'}
            </Text>
            {h.replica ? (
              <>
                {sep}
                <Text color={h.replica.lagSeconds >= 5 ? 'yellow' : undefined}>
                  {`replica lag ${Math.round(h.replica.lagSeconds)}s${h.replica.paused ? ' (paused)' : ''}`}
                </Text>
              </>
            ) : null}
            {sep}
            <Text>schema {h.schema}</Text>
            {sep}
            <Text dimColor>{h.displayUrl}</Text>
          </>
        ) : (
          <Text dimColor>connecting…</Text>
        )}
      </Text>
      <Text wrap="truncate">
        {h ? (
          <>
            <Count label={narrow ? 'pend' : 'pending'} n={h.active.pending} color={statusColor('pending')} />{' '}
            <Count label={narrow ? 'run' : 'running'} n={h.active.running} color={statusColor('running')} />{' '}
            <Count label={narrow ? 'comp' : 'compensating'} n={h.active.compensating} color={statusColor('compensating')} />{' '}
            <Count label={narrow ? 'susp' : 'suspended'} n={h.active.suspended} color={statusColor('suspended')} />
            {sep}
            {narrow ? '1h: ' : 'last hour: '}
            <Count label={narrow ? 'ok' : 'completed'} n={h.lastHour.completed} color="green" />{' '}
            <Count label={narrow ? "comp'd" : 'compensated'} n={h.lastHour.compensated} color="yellow" />{' '}
            <Count label="failed" n={h.lastHour.failed} color="red" />
          </>
        ) : (
          ' '
        )}
      </Text>
      <Text wrap="truncate">
        {VIEWS.map((v, i) => (
          <Text key={v}>
            {i > 0 ? '  ' : ''}
            <Text inverse={v === view} bold={v === view}>
              {` ${i + 1} ${(narrow && NARROW_TITLES[v]) || VIEW_TITLES[v]} `}
            </Text>
          </Text>
        ))}
      </Text>
    </Box>
  )
}
