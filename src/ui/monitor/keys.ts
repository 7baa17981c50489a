import type { Key } from 'ink'
import { isRepair, openDialog, repairInputs, type DialogState, type RepairInputs, type RepairKind, type SagaActionKind } from '../components/dialog/dialog-state.js'
import { editText } from '../components/text-input/edit.js'
import { shortId } from '../format.js'
import { VIEWS } from '../views.js'
import { actionTarget, selectedRow, type MonitorAction, type MonitorState } from './state.js'

/** Work a key asks for beyond a state change: the console's root performs it. */
export type Effect =
  | { type: 'quit' }
  | { type: 'load-plan'; sagaId: string }
  | { type: 'load-intervention'; sagaId: string }
  | { type: 'load-repair-plan'; sagaId: string; kind: RepairKind; inputs: RepairInputs }
  | { type: 'submit'; dialog: DialogState }

export type Intent = { type: 'dispatch'; action: MonitorAction } | { type: 'effect'; effect: Effect }

const act = (action: MonitorAction): Intent => ({ type: 'dispatch', action })
const effect = (e: Effect): Intent => ({ type: 'effect', effect: e })
const info = (text: string): Intent => act({ type: 'status', status: { kind: 'info', text } })

const SAGA_ACTIONS: Record<string, SagaActionKind> = { r: 'retry', c: 'compensate', k: 'skip', a: 'abort', v: 'resolve', f: 'fork', m: 'migrate' }

/** What a key means on the console's screens (the dialog has its own keys). Pure, so it is tested without a terminal. */
export function monitorKey(s: MonitorState, input: string, key: Partial<Key>): Intent[] {
  if (key.ctrl && input === 'c') return [effect({ type: 'quit' })]

  if (s.filterInput) {
    if (key.return) return [act({ type: 'filter-commit' })]
    if (key.escape) return [act({ type: 'filter-cancel' })]
    const value = editText(s.filterInput, input, key)
    return value ? [act({ type: 'filter-edit', value })] : []
  }

  if (input === 'q') return [effect({ type: 'quit' })]
  if (input === '?') return [act({ type: 'help' })]
  if (s.help) return key.escape ? [act({ type: 'help', open: false })] : []

  const digit = Number(input)
  if (Number.isInteger(digit) && digit >= 1 && digit <= VIEWS.length) return [act({ type: 'view', view: VIEWS[digit - 1]! })]
  if (key.tab) return [act({ type: 'view-step', delta: key.shift ? -1 : 1 })]

  if (s.detail && key.escape) return [act({ type: 'close-detail' })]
  if (key.escape && s.status) return [act({ type: 'status', status: null })]

  const kind = SAGA_ACTIONS[input]
  if (kind) return sagaAction(s, kind)
  if (input === 'R' || input === 'C') return groupAction(s, input === 'R' ? 'group-retry' : 'group-compensate')
  if (input === 'p' || input === 'u') return participantAction(s, input === 'p' ? 'pause' : 'resume')

  if (s.detail) return []
  if (key.upArrow) return [act({ type: 'move', to: 'up' })]
  if (key.downArrow) return [act({ type: 'move', to: 'down' })]
  if (key.pageUp) return [act({ type: 'move', to: 'page-up' })]
  if (key.pageDown) return [act({ type: 'move', to: 'page-down' })]
  if (key.home) return [act({ type: 'move', to: 'home' })]
  if (key.end) return [act({ type: 'move', to: 'end' })]
  if (key.return) return enter(s)
  if (input === '/') return [act({ type: 'filter-start' })]
  if (input === 's') return [act({ type: 'cycle-status' })]
  if (input === 'd') return [act({ type: 'cycle-definition' })]
  return []
}

function enter(s: MonitorState): Intent[] {
  switch (s.view) {
    case 'definitions': {
      const row = selectedRow(s, 'definitions')
      return row ? [act({ type: 'show-definition', name: row.name })] : []
    }
    case 'groups': {
      const first = selectedRow(s, 'groups')?.sagas[0]
      return first ? [act({ type: 'open-detail', id: first.id })] : []
    }
    default: {
      const target = actionTarget(s)
      return target ? [act({ type: 'open-detail', id: target.sagaId })] : []
    }
  }
}

function sagaAction(s: MonitorState, kind: SagaActionKind): Intent[] {
  if (s.busy) return [info(`wait: ${s.busy} is still running`)]
  const target = actionTarget(s)
  if (!target) {
    return [info(s.view === 'groups' ? 'in failure groups, R retries and C compensates the whole group' : 'select a saga first')]
  }
  const dialog = openDialog(kind, target)
  const intents: Intent[] = [act({ type: 'dialog-open', dialog })]
  if (isRepair(kind)) intents.push(effect({ type: 'load-repair-plan', sagaId: target.sagaId, kind, inputs: repairInputs(dialog) }))
  if (kind === 'compensate') intents.push(effect({ type: 'load-plan', sagaId: target.sagaId }))
  if (kind === 'resolve' && !target.interventionId) intents.push(effect({ type: 'load-intervention', sagaId: target.sagaId }))
  return intents
}

function groupAction(s: MonitorState, kind: 'group-retry' | 'group-compensate'): Intent[] {
  if (s.busy) return [info(`wait: ${s.busy} is still running`)]
  const group = s.view === 'groups' && !s.detail ? selectedRow(s, 'groups') : undefined
  if (!group) return [info('R and C act on a failure group: press 5 and select one')]
  const label = `${group.definition} / ${group.step ?? '-'} / ${group.error || '(no error)'}`
  return [act({ type: 'dialog-open', dialog: openDialog(kind, null, { label, count: group.count, sagas: group.sagas }) })]
}

function participantAction(s: MonitorState, kind: 'pause' | 'resume'): Intent[] {
  if (s.busy) return [info(`wait: ${s.busy} is still running`)]
  const p = s.view === 'participants' && !s.detail ? selectedRow(s, 'participants') : undefined
  if (!p) return [info('p pauses and u resumes a participant: press 6 and select one')]
  return [act({ type: 'dialog-open', dialog: openDialog(kind, null, null, p.name) })]
}

/** For messages: `saga 0190abcd (order-checkout)`. */
export function describeTarget(sagaId: string, definition: string | null): string {
  return `saga ${shortId(sagaId)}${definition ? ` (${definition})` : ''}`
}
