import type { ParticipantSummary } from '../../engine/participants/controls.js'
import type { Saga } from '../../engine/types.js'
import type { DefinitionStats, FailureGroup, InterventionItem, StuckSaga } from '../data.js'
import { age, oneLine, percent, readableError, shortId } from '../format.js'
import type { Cursor } from '../monitor/state.js'
import type { ViewName, ViewRows } from '../views.js'
import { statusColor } from './colors.js'
import type { Column } from './table/layout.js'
import { Table } from './table/Table.js'

const since = (now: number, d: Date): string => age(now - d.getTime())

function liveColumns(now: number): Array<Column<Saga>> {
  return [
    { title: 'ID', width: 13, cell: (s) => shortId(s.id) },
    { title: 'DEFINITION', width: 24, min: 8, fit: true, cell: (s) => s.definition },
    { title: 'STATUS', width: 12, min: 6, fit: true, cell: (s) => s.status, color: (s) => statusColor(s.status) },
    { title: 'STEP', width: 24, min: 8, fit: true, cell: (s) => s.currentStep ?? '' },
    { title: 'REV', width: 4, align: 'right', optional: true, cell: (s) => String(s.revision) },
    { title: 'AGE', width: 4, align: 'right', cell: (s) => since(now, s.createdAt) },
    {
      title: 'ERROR / REASON',
      width: 14,
      min: 12,
      grow: 3,
      cell: (s) => oneLine(s.waitingFor ? `waiting for participant ${s.waitingFor}` : readableError(s.lastError ?? s.reason ?? '')),
    },
  ]
}

function stuckColumns(now: number): Array<Column<StuckSaga>> {
  return [
    { title: 'ID', width: 13, cell: (r) => shortId(r.saga.id) },
    { title: 'DEFINITION', width: 24, min: 8, fit: true, cell: (r) => r.saga.definition },
    { title: 'STATUS', width: 12, min: 6, fit: true, cell: (r) => r.saga.status, color: (r) => statusColor(r.saga.status) },
    { title: 'IDLE', width: 4, align: 'right', cell: (r) => since(now, r.saga.updatedAt) },
    // The reason is what the operator came for: it takes all the spare width.
    { title: 'WHY', width: 30, min: 20, grow: 1, cell: (r) => r.why },
  ]
}

function interventionColumns(now: number): Array<Column<InterventionItem>> {
  return [
    { title: 'SAGA', width: 13, cell: (r) => shortId(r.intervention.sagaId) },
    { title: 'DEFINITION', width: 24, min: 8, fit: true, cell: (r) => r.definition ?? '?' },
    {
      title: 'STEP',
      width: 31,
      min: 8,
      fit: true,
      cell: (r) => `${r.intervention.step ?? ''}${r.intervention.phase === 'compensation' ? ' (comp)' : ''}`,
    },
    { title: 'OPEN', width: 4, align: 'right', cell: (r) => since(now, r.intervention.createdAt) },
    { title: 'REASON', width: 20, min: 12, grow: 3, cell: (r) => oneLine(readableError(r.intervention.reason)) },
  ]
}

const count = (n: number): string => String(n)

const definitionColumns: Array<Column<DefinitionStats>> = [
  { title: 'DEFINITION', width: 40, min: 10, fit: true, cell: (d) => d.name },
  { title: 'VER', width: 4, align: 'right', cell: (d) => (d.latestVersion === null ? '-' : String(d.latestVersion)) },
  { title: 'ACTIVE', width: 7, align: 'right', cell: (d) => count(d.active) },
  { title: 'DONE 24H', width: 8, align: 'right', cell: (d) => count(d.completed) },
  { title: 'COMP 24H', width: 8, align: 'right', cell: (d) => count(d.compensated), color: (d) => (d.compensated > 0 ? 'yellow' : undefined) },
  { title: 'FAIL 24H', width: 8, align: 'right', cell: (d) => count(d.failed), color: (d) => (d.failed > 0 ? 'red' : undefined) },
  {
    title: 'SUCCESS',
    width: 7,
    align: 'right',
    cell: (d) => percent(d.successRate),
    color: (d) => (d.successRate === null ? undefined : d.successRate < 0.9 ? 'red' : 'green'),
  },
]

const groupColumns: Array<Column<FailureGroup>> = [
  { title: 'COUNT', width: 5, align: 'right', cell: (g) => count(g.count) },
  { title: 'DEFINITION', width: 24, min: 8, fit: true, cell: (g) => g.definition },
  { title: 'STEP', width: 24, min: 8, fit: true, cell: (g) => g.step ?? '' },
  {
    title: 'STATUS',
    width: 25,
    min: 12,
    fit: true,
    optional: true,
    cell: (g) => g.statuses.join(','),
    color: (g) => (g.statuses.length === 1 ? statusColor(g.statuses[0]!) : undefined),
  },
  { title: 'ERROR', width: 20, min: 12, grow: 3, cell: (g) => (g.error ? readableError(g.error) : '(no error)') },
]

const rate = (v: number | null): string => (v === null ? '' : `≤${v < 1000 ? `${v}ms` : `${v / 1000}s`}`)

const participantColumns: Array<Column<ParticipantSummary>> = [
  { title: 'PARTICIPANT', width: 40, min: 12, fit: true, cell: (p) => p.name },
  { title: 'STATE', width: 9, cell: (p) => p.state, color: (p) => PARTICIPANT_COLORS[p.state] },
  { title: 'CALLS/M', width: 7, align: 'right', cell: (p) => count(p.callsLastMinute) },
  { title: 'ERR', width: 5, align: 'right', cell: (p) => percent(p.errorRate), color: (p) => ((p.errorRate ?? 0) > 0.1 ? 'red' : undefined) },
  { title: 'P95', width: 7, align: 'right', optional: true, cell: (p) => rate(p.p95Ms) },
  { title: 'FLIGHT', width: 6, align: 'right', cell: (p) => count(p.inFlight) },
  { title: 'WAIT', width: 5, align: 'right', cell: (p) => count(p.sagasWaiting), color: (p) => (p.sagasWaiting > 0 ? 'yellow' : undefined) },
  { title: 'WHY', width: 16, min: 8, grow: 2, cell: (p) => oneLine(p.paused ? `${p.paused.reason ?? ''} (${p.paused.by ?? '?'})` : '') },
]

const PARTICIPANT_COLORS: Record<string, string | undefined> = { ok: 'green', paused: 'magenta', open: 'red', 'half-open': 'yellow', limited: 'cyan' }

const EMPTY: Record<ViewName, string> = {
  live: 'no sagas match',
  stuck: 'nothing is stuck',
  interventions: 'the intervention queue is empty',
  definitions: 'no definitions: sagactl def apply <file>',
  groups: 'no failing or suspended sagas',
  participants: 'no participants yet: workers record each one at its first call',
}

export interface ViewTableProps {
  view: ViewName
  rows: ViewRows
  loaded: boolean
  cursor: Cursor
  height: number
  width: number
  now: number
}

/** The table of the current view. Renders only. */
export function ViewTable({ view, rows, loaded, cursor, height, width, now }: ViewTableProps) {
  const common = { selected: cursor.index, offset: cursor.offset, height, width, empty: loaded ? EMPTY[view] : 'loading…' }
  switch (view) {
    case 'live':
      return <Table columns={liveColumns(now)} rows={rows.live} {...common} />
    case 'stuck':
      return <Table columns={stuckColumns(now)} rows={rows.stuck} {...common} />
    case 'interventions':
      return <Table columns={interventionColumns(now)} rows={rows.interventions} {...common} />
    case 'definitions':
      return <Table columns={definitionColumns} rows={rows.definitions} {...common} />
    case 'groups':
      return <Table columns={groupColumns} rows={rows.groups} {...common} />
    case 'participants':
      return <Table columns={participantColumns} rows={rows.participants} {...common} />
  }
}
