import { Box, Text } from 'ink'
import { formatDuration } from '../../engine/duration.js'
import type { SagaEvent, StepRecord } from '../../engine/types.js'
import type { SagaDetail } from '../data.js'
import { age, clockTime, oneLine } from '../format.js'
import { statusColor } from './colors.js'
import type { Column } from './table/layout.js'
import { Table } from './table/Table.js'

function duration(s: StepRecord, now: number): string {
  if (!s.startedAt) return ''
  if (s.finishedAt) return formatDuration(s.finishedAt.getTime() - s.startedAt.getTime())
  return s.status === 'running' ? `${formatDuration(now - s.startedAt.getTime())}…` : ''
}

function stepColumns(now: number): Array<Column<StepRecord>> {
  return [
    { title: 'PHASE', width: 6, cell: (s) => (s.phase === 'action' ? 'action' : 'comp') },
    { title: 'STEP', width: 20, min: 10, grow: 1, cell: (s) => s.name },
    { title: 'STATUS', width: 9, cell: (s) => s.status, color: (s) => statusColor(s.status) },
    { title: 'ATT', width: 3, align: 'right', cell: (s) => String(s.attempts) },
    { title: 'DURATION', width: 8, align: 'right', cell: (s) => duration(s, now) },
    { title: 'LAST ERROR', width: 16, min: 8, grow: 2, cell: (s) => oneLine(s.lastError) },
  ]
}

function eventText(e: SagaEvent): string {
  const where = e.step ? ` ${e.step}${e.phase === 'compensation' ? ' (comp)' : ''}${e.attempt ? ` #${e.attempt}` : ''}` : ''
  const d = e.data ?? {}
  const detail = d.error ?? d.reason ?? d.note ?? d.action
  return `${clockTime(e.at)} ${e.type}${where}${typeof detail === 'string' ? `: ${oneLine(detail)}` : ''}`
}

export interface DetailPaneProps {
  detail: { id: string; data: SagaDetail | null; missing: boolean }
  width: number
  height: number
  now: number
}

/** One saga: header, step timeline, the open intervention, the last events that fit. Renders only. */
export function DetailPane({ detail, width, height, now }: DetailPaneProps) {
  if (detail.missing) return <Text color="red">{`saga ${detail.id} no longer exists (Esc to go back)`}</Text>
  const d = detail.data
  if (!d) return <Text dimColor>{`loading saga ${detail.id}…`}</Text>
  const s = d.saga
  const ago = (t: Date): string => age(now - t.getTime())
  const facts = [
    s.currentStep ? `step ${s.currentStep}` : null,
    `created ${ago(s.createdAt)} ago`,
    `updated ${ago(s.updatedAt)} ago`,
    s.finishedAt ? `finished ${ago(s.finishedAt)} ago` : null,
    s.deadlineAt && !s.finishedAt ? (s.deadlineAt.getTime() > now ? `deadline in ${age(s.deadlineAt.getTime() - now)}` : 'past its deadline') : null,
    s.leaseOwner ? `worker ${s.leaseOwner}` : null,
  ].filter(Boolean)
  const info: Array<[string, string]> = []
  if (d.waiting) info.push(['waiting', oneLine(d.waiting)])
  if (s.forkedFrom) info.push(['forked from', s.forkedFrom])
  if (s.reason) info.push(['reason', oneLine(s.reason)])
  if (s.lastError) info.push(['last error', oneLine(s.lastError)])
  const iv = d.intervention
  const fixed = 2 + info.length + 1 + (iv ? 1 : 0) + 1
  const stepRows = Math.max(1, Math.min(d.steps.length, Math.floor((height - fixed) * 0.6)))
  const eventRows = Math.max(0, height - fixed - stepRows - 1)
  const events = d.events.slice(-eventRows)
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text wrap="truncate">
        <Text bold>{s.id}</Text> {s.definition} v{s.version} <Text color={statusColor(s.status)}>{s.status}</Text> rev {s.revision}
      </Text>
      <Text wrap="truncate" dimColor>
        {facts.join(' · ')}
      </Text>
      {info.map(([k, v]) => (
        <Text key={k} wrap="truncate">
          <Text color={k === 'last error' ? 'red' : 'yellow'}>{k}:</Text> {v}
        </Text>
      ))}
      <Table columns={stepColumns(now)} rows={d.steps} selected={-1} offset={Math.max(0, d.steps.length - stepRows)} height={stepRows} width={width} empty="no step has started" />
      {iv ? (
        <Text wrap="truncate" color="magenta">
          {`intervention open ${ago(iv.createdAt)}${iv.step ? ` · ${iv.step}${iv.phase === 'compensation' ? ' (comp)' : ''}` : ''} · ${oneLine(iv.reason)} (v resolves)`}
        </Text>
      ) : null}
      <Text bold>{`Last events${d.events.length > events.length ? ` (${events.length} of ${d.events.length})` : ''}`}</Text>
      {events.map((e) => (
        <Text key={e.id} wrap="truncate" dimColor={e.type.startsWith('step.started')}>
          {eventText(e)}
        </Text>
      ))}
    </Box>
  )
}
