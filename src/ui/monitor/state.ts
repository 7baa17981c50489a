import type { Saga } from '../../engine/types.js'
import { dialogReducer, type ActionTarget, type DialogAction, type DialogState } from '../components/dialog/dialog-state.js'
import type { TextValue } from '../components/text-input/edit.js'
import type { HeaderData, SagaDetail } from '../data.js'
import { emptyRows, rowKey, STATUS_FILTERS, VIEWS, type LiveFilter, type ViewName, type ViewRows } from '../views.js'

/** The console's whole state; changed only by `monitorReducer`, a pure function. */
export interface MonitorState {
  view: ViewName
  rows: ViewRows
  loaded: Record<ViewName, boolean>
  cursor: Record<ViewName, Cursor>
  /** Table rows that fit on screen: PageUp/PageDown distance and the scroll window. */
  pageSize: number
  filter: LiveFilter
  /** The text filter while it is being typed (after `/`); applied on Enter. */
  filterInput: TextValue | null
  definitionNames: string[]
  header: HeaderData | null
  /** The database clock minus this machine's: ages are computed on the database's time. */
  clockSkewMs: number
  detail: { id: string; data: SagaDetail | null; missing: boolean } | null
  help: boolean
  dialog: DialogState | null
  status: StatusMessage | null
  /** A failed read or lost live updates: shown until reads succeed again. */
  problem: string | null
  /** The operator action in progress; one at a time. */
  busy: string | null
}

export interface Cursor {
  index: number
  offset: number
  /** The selected row's key: after a refresh the selection stays on that row. */
  key: string | null
}

export interface StatusMessage {
  kind: 'info' | 'ok' | 'error'
  text: string
}

export type Move = 'up' | 'down' | 'page-up' | 'page-down' | 'home' | 'end'

export type MonitorAction =
  | { type: 'view'; view: ViewName }
  | { type: 'view-step'; delta: 1 | -1 }
  | { type: 'move'; to: Move }
  | { type: 'resize'; pageSize: number }
  | { type: 'rows'; view: ViewName; rows: ViewRows[ViewName] }
  | { type: 'patch'; sagas: Saga[] }
  | { type: 'header'; header: HeaderData; receivedAt?: number }
  | { type: 'names'; names: string[] }
  | { type: 'problem'; message: string | null }
  | { type: 'open-detail'; id: string }
  | { type: 'detail'; id: string; data: SagaDetail | null }
  | { type: 'close-detail' }
  | { type: 'filter-start' }
  | { type: 'filter-edit'; value: TextValue }
  | { type: 'filter-commit' }
  | { type: 'filter-cancel' }
  | { type: 'cycle-status' }
  | { type: 'cycle-definition' }
  | { type: 'show-definition'; name: string }
  | { type: 'help'; open?: boolean }
  | { type: 'dialog-open'; dialog: DialogState }
  /** `sagaId`: a late answer for a dialog that has been replaced is dropped. */
  | { type: 'dialog'; action: DialogAction; sagaId?: string }
  | { type: 'dialog-close' }
  | { type: 'status'; status: StatusMessage | null }
  | { type: 'busy'; label: string | null }

const cursor0 = (): Cursor => ({ index: 0, offset: 0, key: null })

export function initialState(pageSize = 15): MonitorState {
  return {
    view: 'live',
    rows: emptyRows(),
    loaded: { live: false, stuck: false, interventions: false, definitions: false, groups: false, participants: false },
    cursor: { live: cursor0(), stuck: cursor0(), interventions: cursor0(), definitions: cursor0(), groups: cursor0(), participants: cursor0() },
    pageSize,
    filter: { status: 'active', definition: null, text: '' },
    filterInput: null,
    definitionNames: [],
    header: null,
    clockSkewMs: 0,
    detail: null,
    help: false,
    dialog: null,
    status: null,
    problem: null,
    busy: null,
  }
}

/** Keeps the index inside the rows and the selected row inside the scroll window. */
export function settle(c: { index: number; offset: number }, length: number, pageSize: number): { index: number; offset: number } {
  const index = Math.max(0, Math.min(c.index, length - 1))
  let offset = Math.min(c.offset, index)
  if (index >= offset + pageSize) offset = index - pageSize + 1
  offset = Math.max(0, Math.min(offset, length - pageSize))
  return { index, offset }
}

function moved(c: Cursor, to: Move, length: number, pageSize: number): { index: number; offset: number } {
  const page = Math.max(1, pageSize)
  switch (to) {
    case 'up':
      return settle({ index: c.index - 1, offset: c.offset }, length, page)
    case 'down':
      return settle({ index: c.index + 1, offset: c.offset }, length, page)
    case 'page-up':
      return settle({ index: c.index - page, offset: c.offset - page }, length, page)
    case 'page-down':
      return settle({ index: c.index + page, offset: c.offset + page }, length, page)
    case 'home':
      return settle({ index: 0, offset: 0 }, length, page)
    case 'end':
      return settle({ index: length - 1, offset: length }, length, page)
  }
}

function withCursor(s: MonitorState, view: ViewName, pos: { index: number; offset: number }): MonitorState {
  const rows = s.rows[view] as ReadonlyArray<ViewRows[typeof view][number]>
  const row = rows[pos.index]
  const key = row === undefined ? null : rowKey(view, row)
  const prev = s.cursor[view]
  if (prev.index === pos.index && prev.offset === pos.offset && prev.key === key) return s
  return { ...s, cursor: { ...s.cursor, [view]: { ...pos, key } } }
}

/** A refresh that changed nothing keeps the old state, so React skips the render. */
function sameRows(view: ViewName, a: ViewRows[ViewName], b: ViewRows[ViewName]): boolean {
  if (a.length !== b.length) return false
  if (view === 'live') return (a as Saga[]).every((x, i) => x.id === (b as Saga[])[i]!.id && x.revision === (b as Saga[])[i]!.revision)
  return false
}

function withRows(s: MonitorState, view: ViewName, rows: ViewRows[ViewName]): MonitorState {
  if (s.loaded[view] && sameRows(view, s.rows[view], rows)) return s
  const next = { ...s, rows: { ...s.rows, [view]: rows }, loaded: { ...s.loaded, [view]: true } }
  const c = s.cursor[view]
  const found = c.key === null ? -1 : (rows as Array<ViewRows[typeof view][number]>).findIndex((r) => rowKey(view, r) === c.key)
  return withCursor(next, view, settle({ index: found >= 0 ? found : c.index, offset: c.offset }, rows.length, s.pageSize))
}

function patched(s: MonitorState, sagas: Saga[]): MonitorState {
  const byId = new Map(sagas.map((x) => [x.id, x]))
  let changed = false
  const live = s.rows.live.map((row) => {
    const fresh = byId.get(row.id)
    if (!fresh || fresh.revision === row.revision) return row
    changed = true
    return fresh
  })
  const stuck = s.rows.stuck.map((row) => {
    const fresh = byId.get(row.saga.id)
    if (!fresh || fresh.revision === row.saga.revision) return row
    changed = true
    return { ...row, saga: fresh }
  })
  return changed ? { ...s, rows: { ...s.rows, live, stuck } } : s
}

const sameFilter = (a: LiveFilter, b: LiveFilter): boolean => a.status === b.status && a.definition === b.definition && a.text === b.text

/** A new live filter starts the list from the top. */
function withFilter(s: MonitorState, filter: LiveFilter): MonitorState {
  if (sameFilter(s.filter, filter)) return { ...s, filterInput: null }
  return { ...s, filter, filterInput: null, view: 'live', loaded: { ...s.loaded, live: false }, cursor: { ...s.cursor, live: cursor0() } }
}

export function monitorReducer(s: MonitorState, a: MonitorAction): MonitorState {
  switch (a.type) {
    case 'view':
      return s.view === a.view && !s.detail && !s.help ? s : { ...s, view: a.view, detail: null, help: false }
    case 'view-step': {
      const i = VIEWS.indexOf(s.view)
      return { ...s, view: VIEWS[(i + a.delta + VIEWS.length) % VIEWS.length]!, detail: null, help: false }
    }
    case 'move':
      return withCursor(s, s.view, moved(s.cursor[s.view], a.to, s.rows[s.view].length, s.pageSize))
    case 'resize': {
      if (a.pageSize === s.pageSize) return s
      const next = { ...s, pageSize: a.pageSize }
      return withCursor(next, s.view, settle(s.cursor[s.view], s.rows[s.view].length, a.pageSize))
    }
    case 'rows':
      return withRows(s, a.view, a.rows)
    case 'patch':
      return patched(s, a.sagas)
    case 'header':
      return { ...s, header: a.header, clockSkewMs: a.receivedAt === undefined ? s.clockSkewMs : a.header.now.getTime() - a.receivedAt }
    case 'names':
      return a.names.join('\n') === s.definitionNames.join('\n') ? s : { ...s, definitionNames: a.names }
    case 'problem':
      return a.message === s.problem ? s : { ...s, problem: a.message }
    case 'open-detail':
      return { ...s, detail: { id: a.id, data: null, missing: false }, help: false }
    case 'detail':
      if (s.detail?.id !== a.id) return s
      return { ...s, detail: { id: a.id, data: a.data ?? s.detail.data, missing: a.data === null } }
    case 'close-detail':
      return { ...s, detail: null }
    case 'filter-start':
      return { ...s, view: 'live', detail: null, filterInput: { value: s.filter.text, cursor: s.filter.text.length } }
    case 'filter-edit':
      return { ...s, filterInput: a.value }
    case 'filter-commit':
      return s.filterInput ? withFilter(s, { ...s.filter, text: s.filterInput.value.trim() }) : s
    case 'filter-cancel':
      return { ...s, filterInput: null }
    case 'cycle-status': {
      const i = STATUS_FILTERS.indexOf(s.filter.status)
      return withFilter(s, { ...s.filter, status: STATUS_FILTERS[(i + 1) % STATUS_FILTERS.length]! })
    }
    case 'cycle-definition': {
      // null (every definition), then each known name in turn.
      const names = s.definitionNames
      const i = s.filter.definition === null ? -1 : names.indexOf(s.filter.definition)
      const next = i + 1 >= names.length ? null : names[i + 1]!
      return withFilter(s, { ...s.filter, definition: next })
    }
    case 'show-definition':
      return withFilter({ ...s, view: 'live' }, { ...s.filter, definition: a.name })
    case 'help':
      return { ...s, help: a.open ?? !s.help }
    case 'dialog-open':
      return { ...s, dialog: a.dialog, help: false }
    case 'dialog':
      if (!s.dialog || (a.sagaId !== undefined && s.dialog.target?.sagaId !== a.sagaId)) return s
      return { ...s, dialog: dialogReducer(s.dialog, a.action) }
    case 'dialog-close':
      return { ...s, dialog: null }
    case 'status':
      return { ...s, status: a.status }
    case 'busy':
      return { ...s, busy: a.label }
  }
}

/** The row under the cursor in the current view. */
export function selectedRow<V extends ViewName>(s: MonitorState, view: V): ViewRows[V][number] | undefined {
  return (s.rows[view] as Array<ViewRows[V][number]>)[s.cursor[view].index]
}

/** What r/c/k/a/v act on: the open saga, else the selected row's saga. */
export function actionTarget(s: MonitorState): ActionTarget | null {
  if (s.detail) {
    const d = s.detail.data
    if (!d) return null
    return { sagaId: d.saga.id, revision: d.saga.revision, definition: d.saga.definition, step: d.saga.currentStep, status: d.saga.status, interventionId: d.intervention?.id ?? null, state: d.saga }
  }
  const fromSaga = (x: Saga): ActionTarget => ({ sagaId: x.id, revision: x.revision, definition: x.definition, step: x.currentStep, status: x.status, interventionId: null, state: x })
  switch (s.view) {
    case 'live': {
      const row = selectedRow(s, 'live')
      return row ? fromSaga(row) : null
    }
    case 'stuck': {
      const row = selectedRow(s, 'stuck')
      return row ? fromSaga(row.saga) : null
    }
    case 'interventions': {
      const row = selectedRow(s, 'interventions')
      if (!row) return null
      const iv = row.intervention
      return { sagaId: iv.sagaId, revision: row.sagaRevision, definition: row.definition, step: iv.step, status: row.sagaStatus, interventionId: iv.id }
    }
    default:
      return null
  }
}
