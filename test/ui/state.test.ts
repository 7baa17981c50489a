import { describe, expect, it } from 'vitest'
import { dialogKey } from '../../src/ui/components/dialog/dialog-keys.js'
import { dialogReducer, openDialog, validateDialog, type ActionTarget } from '../../src/ui/components/dialog/dialog-state.js'
import { fitColumns, type Column } from '../../src/ui/components/table/layout.js'
import { editText, textValue } from '../../src/ui/components/text-input/edit.js'
import { stuckReason } from '../../src/ui/data-problems.js'
import { age, readableError, truncate } from '../../src/ui/format.js'
import { monitorKey } from '../../src/ui/monitor/keys.js'
import { actionTarget, initialState, monitorReducer, settle, type MonitorAction, type MonitorState } from '../../src/ui/monitor/state.js'
import { splitInput } from '../../src/ui/monitor/split-input.js'
import { rowLimit } from '../../src/ui/monitor/use-feed.js'
import { header, intervention, saga } from './helpers.js'

const reduce = (s: MonitorState, ...actions: MonitorAction[]): MonitorState => actions.reduce(monitorReducer, s)
const withLive = (n: number, pageSize = 5) => {
  const rows = Array.from({ length: n }, (_, i) => saga({ definition: `def-${i}` }))
  return { rows, state: reduce(initialState(pageSize), { type: 'rows', view: 'live', rows }) }
}
const target: ActionTarget = { sagaId: 'a'.repeat(8), revision: 4, definition: 'd', step: 'reserve-inventory', status: 'suspended', interventionId: null }

describe('monitor reducer', () => {
  it('moves the selection and scrolls the window with it', () => {
    const { state } = withLive(12)
    const down = reduce(state, ...Array.from({ length: 6 }, () => ({ type: 'move', to: 'down' }) as const))
    expect(down.cursor.live).toMatchObject({ index: 6, offset: 2 })
    expect(reduce(down, { type: 'move', to: 'page-down' }).cursor.live).toMatchObject({ index: 11, offset: 7 })
    expect(reduce(down, { type: 'move', to: 'page-up' }).cursor.live).toMatchObject({ index: 1, offset: 0 })
    expect(reduce(down, { type: 'move', to: 'end' }).cursor.live).toMatchObject({ index: 11, offset: 7 })
    expect(reduce(down, { type: 'move', to: 'home' }).cursor.live).toMatchObject({ index: 0, offset: 0 })
    expect(reduce(state, { type: 'move', to: 'up' })).toBe(state)
  })

  it('settle keeps index and window inside the rows', () => {
    expect(settle({ index: 9, offset: 0 }, 3, 5)).toEqual({ index: 2, offset: 0 })
    expect(settle({ index: 0, offset: 4 }, 0, 5)).toEqual({ index: 0, offset: 0 })
    expect(settle({ index: 8, offset: 0 }, 20, 5)).toEqual({ index: 8, offset: 4 })
  })

  it('keeps the selection on the same saga when a refresh reorders the rows', () => {
    const { rows, state } = withLive(4)
    const on2 = reduce(state, { type: 'move', to: 'down' }, { type: 'move', to: 'down' })
    expect(on2.cursor.live.key).toBe(rows[2]!.id)
    const fresh = [saga(), ...rows]
    const after = reduce(on2, { type: 'rows', view: 'live', rows: fresh })
    expect(after.cursor.live).toMatchObject({ index: 3, key: rows[2]!.id })
    // The selected saga disappeared: the position stays, on whatever row is there now.
    const gone = reduce(after, { type: 'rows', view: 'live', rows: rows.slice(0, 2) })
    expect(gone.cursor.live).toMatchObject({ index: 1, key: rows[1]!.id })
  })

  it('a refresh that changed nothing keeps the state (no render)', () => {
    const { rows, state } = withLive(3)
    expect(reduce(state, { type: 'rows', view: 'live', rows: rows.map((r) => ({ ...r })) })).toBe(state)
    expect(reduce(state, { type: 'rows', view: 'live', rows: rows.slice(1) })).not.toBe(state)
  })

  it('patches changed sagas in place and ignores unchanged revisions', () => {
    const { rows, state } = withLive(3)
    const changed = { ...rows[1]!, status: 'suspended' as const, revision: rows[1]!.revision + 1 }
    const next = reduce(state, { type: 'patch', sagas: [changed, rows[0]!] })
    expect(next.rows.live[1]).toBe(changed)
    expect(next.rows.live[0]).toBe(rows[0])
    expect(reduce(state, { type: 'patch', sagas: [rows[0]!] })).toBe(state)
  })

  it('switches views, and view keys leave the detail and the help', () => {
    const s = reduce(initialState(), { type: 'open-detail', id: 'x' }, { type: 'view', view: 'stuck' })
    expect(s).toMatchObject({ view: 'stuck', detail: null })
    expect(reduce(s, { type: 'view-step', delta: -1 }).view).toBe('live')
    expect(reduce(initialState(), { type: 'view-step', delta: -1 }).view).toBe('participants')
  })

  it('cycles the status and definition filters and resets the list', () => {
    const { state } = withLive(5)
    const moved = reduce(state, { type: 'move', to: 'down' }, { type: 'names', names: ['a', 'b'] })
    const s1 = reduce(moved, { type: 'cycle-status' })
    expect(s1.filter.status).toBe('pending')
    expect(s1.cursor.live.index).toBe(0)
    expect(s1.loaded.live).toBe(false)
    const statuses = [s1.filter.status]
    let s = s1
    for (let i = 0; i < 8; i++) {
      s = reduce(s, { type: 'cycle-status' })
      statuses.push(s.filter.status)
    }
    expect(statuses).toEqual(['pending', 'running', 'compensating', 'suspended', 'completed', 'compensated', 'failed', 'all', 'active'])
    const defs = [1, 2, 3].map(() => (s = reduce(s, { type: 'cycle-definition' })).filter.definition)
    expect(defs).toEqual(['a', 'b', null])
  })

  it('text filter: typed after /, applied on Enter, dropped on Esc', () => {
    let s = reduce(initialState(), { type: 'view', view: 'stuck' }, { type: 'filter-start' })
    expect(s.view).toBe('live')
    s = reduce(s, { type: 'filter-edit', value: textValue(' 503 ') }, { type: 'filter-commit' })
    expect(s.filter.text).toBe('503')
    expect(s.filterInput).toBeNull()
    s = reduce(s, { type: 'filter-start' }, { type: 'filter-edit', value: textValue('x') }, { type: 'filter-cancel' })
    expect(s.filter.text).toBe('503')
  })

  it('records the database clock skew from the header', () => {
    const h = header({ now: new Date(10_000) })
    expect(reduce(initialState(), { type: 'header', header: h, receivedAt: 7_000 }).clockSkewMs).toBe(3_000)
  })

  it('drops a late answer meant for another dialog', () => {
    const s = reduce(initialState(), { type: 'dialog-open', dialog: openDialog('compensate', target) })
    const plan = { sagaId: 'other', status: 'running' as const, allowed: true, refusal: null, steps: [] }
    expect(reduce(s, { type: 'dialog', sagaId: 'other', action: { type: 'plan', plan: { state: 'loaded', value: plan } } })).toBe(s)
    expect(reduce(s, { type: 'dialog', sagaId: target.sagaId, action: { type: 'plan', plan: { state: 'loaded', value: plan } } }).dialog?.plan?.state).toBe('loaded')
  })

  it('action target: the open saga, the selected row, or the intervention', () => {
    const { rows, state } = withLive(2)
    expect(actionTarget(state)).toMatchObject({ sagaId: rows[0]!.id, revision: rows[0]!.revision, interventionId: null })
    const iv = intervention(saga({ status: 'suspended', revision: 9 }))
    const s = reduce(state, { type: 'rows', view: 'interventions', rows: [iv] }, { type: 'view', view: 'interventions' })
    expect(actionTarget(s)).toMatchObject({ sagaId: iv.intervention.sagaId, revision: 9, interventionId: iv.intervention.id })
    expect(actionTarget(reduce(s, { type: 'view', view: 'definitions' }))).toBeNull()
    expect(actionTarget(reduce(s, { type: 'open-detail', id: 'x' }))).toBeNull()
  })

  it('loads three screens of rows, more as the selection goes down', () => {
    const { state } = withLive(40, 10)
    expect(rowLimit(state)).toBe(30)
    const deep = reduce(state, { type: 'move', to: 'page-down' }, { type: 'move', to: 'page-down' })
    expect(rowLimit(deep)).toBe(50)
  })
})

describe('monitor keys', () => {
  const s = withLive(3).state
  it('maps keys to state changes and effects', () => {
    expect(monitorKey(s, '3', {})).toEqual([{ type: 'dispatch', action: { type: 'view', view: 'interventions' } }])
    expect(monitorKey(s, '', { tab: true })).toEqual([{ type: 'dispatch', action: { type: 'view-step', delta: 1 } }])
    expect(monitorKey(s, '', { downArrow: true })).toEqual([{ type: 'dispatch', action: { type: 'move', to: 'down' } }])
    expect(monitorKey(s, 'q', {})).toEqual([{ type: 'effect', effect: { type: 'quit' } }])
    expect(monitorKey(s, 'c', { ctrl: true })).toEqual([{ type: 'effect', effect: { type: 'quit' } }])
    expect(monitorKey(s, '?', {})).toEqual([{ type: 'dispatch', action: { type: 'help' } }])
  })

  it('opens action dialogs on the selected saga, with the loads they need', () => {
    const [open, load] = monitorKey(s, 'c', {})
    expect(open).toMatchObject({ type: 'dispatch', action: { type: 'dialog-open', dialog: { kind: 'compensate', target: { sagaId: s.rows.live[0]!.id } } } })
    expect(load).toEqual({ type: 'effect', effect: { type: 'load-plan', sagaId: s.rows.live[0]!.id } })
    expect(monitorKey(s, 'v', {})[1]).toEqual({ type: 'effect', effect: { type: 'load-intervention', sagaId: s.rows.live[0]!.id } })
    expect(monitorKey({ ...s, busy: 'retrying' }, 'r', {})).toMatchObject([{ action: { type: 'status' } }])
    expect(monitorKey(s, 'R', {})).toMatchObject([{ action: { type: 'status', status: { text: expect.stringContaining('failure group') } } }])
  })

  it('while the filter is typed, keys edit it', () => {
    const typing = reduce(s, { type: 'filter-start' })
    expect(monitorKey(typing, 'q', {})).toEqual([{ type: 'dispatch', action: { type: 'filter-edit', value: { value: 'q', cursor: 1 } } }])
    expect(monitorKey(typing, '', { return: true })).toEqual([{ type: 'dispatch', action: { type: 'filter-commit' } }])
  })
})

describe('dialog', () => {
  it('skip defaults to the current step and requires a reason', () => {
    const d = openDialog('skip', target)
    expect(d.step.value).toBe('reserve-inventory')
    expect(d.fields[d.focus]).toBe('reason')
    expect(validateDialog(d)).toEqual({ message: 'a reason is required', field: 'reason' })
    const typed = dialogReducer(d, { type: 'edit', field: 'reason', value: textValue('done by hand') })
    expect(validateDialog(typed)).toBeNull()
    expect(validateDialog(dialogReducer(typed, { type: 'edit', field: 'step', value: textValue('') }))).toMatchObject({ field: 'step' })
  })

  it('retry needs no reason; resolve needs its intervention and a note', () => {
    expect(validateDialog(openDialog('retry', target))).toBeNull()
    const r = openDialog('resolve', target)
    expect(validateDialog(r)?.message).toMatch(/looking up/)
    const none = dialogReducer(r, { type: 'intervention', intervention: { state: 'loaded', value: null } })
    expect(validateDialog(none)?.message).toMatch(/no open intervention/)
    const known = openDialog('resolve', { ...target, interventionId: 'iv' })
    expect(validateDialog(known)?.message).toBe('a note is required')
  })

  it('keys: Tab moves between fields, arrows and letters choose the resolve action, Enter validates', () => {
    const r = openDialog('resolve', { ...target, interventionId: 'iv' })
    expect(dialogKey(r, '', { rightArrow: true })).toEqual({ type: 'update', action: { type: 'choose', delta: 1 } })
    expect(dialogKey(r, 'a', {})).toEqual({ type: 'update', action: { type: 'choose-action', action: 'abort' } })
    expect(dialogReducer(r, { type: 'choose', delta: -1 }).action).toBe('abort')
    expect(dialogKey(r, '', { tab: true })).toEqual({ type: 'update', action: { type: 'focus', delta: 1 } })
    expect(dialogKey(r, '', { return: true })).toEqual({ type: 'update', action: { type: 'invalid', message: 'a note is required', field: 'reason' } })
    const retry = openDialog('retry', target)
    expect(dialogKey(retry, '', { return: true })).toEqual({ type: 'submit' })
    expect(dialogKey(retry, '', { escape: true })).toEqual({ type: 'cancel' })
    expect(dialogKey(retry, 'x', {})).toEqual({ type: 'update', action: { type: 'edit', field: 'reason', value: { value: 'x', cursor: 1 } } })
  })
})

describe('splitting a chunk of input into keys', () => {
  it('control characters become keys; printable runs stay whole only for a text field', () => {
    const parts = (input: string, asText: boolean) => [...splitInput(input, () => asText)]
    expect(parts('r\r', false)).toEqual([
      { input: 'r', key: {} },
      { input: '', key: { return: true } },
    ])
    expect(parts('ab\tC', false)).toEqual([
      { input: 'a', key: {} },
      { input: 'b', key: {} },
      { input: '', key: { tab: true } },
      { input: 'C', key: { shift: true } },
    ])
    expect(parts('two words\u007f\u0003', true)).toEqual([
      { input: 'two words', key: {} },
      { input: '', key: { backspace: true } },
      { input: 'c', key: { ctrl: true } },
    ])
  })
})

describe('text editing', () => {
  it('inserts at the cursor, erases backwards, moves, ignores control keys', () => {
    let t = textValue('abd')
    t = editText(t, '', { leftArrow: true })!
    t = editText(t, 'c', {})!
    expect(t).toEqual({ value: 'abcd', cursor: 3 })
    expect(editText(t, '', { delete: true })).toEqual({ value: 'abd', cursor: 2 })
    expect(editText(t, '', { home: true })?.cursor).toBe(0)
    expect(editText(t, 'u', { ctrl: true })).toEqual({ value: 'd', cursor: 0 })
    expect(editText(t, 'x\n', {})).toEqual({ value: 'abcxd', cursor: 4 })
    expect(editText(t, '', { return: true })).toBeNull()
    expect(editText(textValue(''), '', { backspace: true })).toEqual({ value: '', cursor: 0 })
  })
})

describe('layout and wording', () => {
  const col = (title: string, width: number, more: Partial<Column<string>> = {}): Column<string> => ({ title, width, cell: (r) => r, ...more })

  it('fits columns: spare width to growing ones, optional ones dropped first', () => {
    const cols = [col('A', 8), col('B', 10, { grow: 1, min: 4 }), col('C', 4, { optional: true }), col('D', 10, { grow: 3, min: 6 })]
    const wide = fitColumns(cols, 80).map((p) => p.width)
    expect(wide.reduce((a, b) => a + b, 0) + 3 + 2).toBe(80)
    expect(wide[0]).toBe(8)
    const narrow = fitColumns(cols, 30)
    expect(narrow.map((p) => p.column.title)).toEqual(['A', 'B', 'C', 'D'])
    expect(narrow.reduce((a, p) => a + p.width, 0) + 3 + 2).toBe(30)
    expect(fitColumns(cols, 24).map((p) => p.column.title)).toEqual(['A', 'B', 'D'])
  })

  it('names fit their widest cell before free text grows; free text shrinks first, then names', () => {
    const cols = [col('NAME', 24, { fit: true, min: 6 }), col('N', 3, { optional: true }), col('TEXT', 10, { grow: 1, min: 8 })]
    const wide = fitColumns(cols, 60, ['order-checkout', 'refund'])
    expect(wide.map((p) => p.width)).toEqual([14, 3, 60 - 14 - 3 - 2 - 2])
    // The optional column goes before the name is cut.
    expect(fitColumns(cols, 14 + 8 + 1 + 2, ['order-checkout']).map((p) => [p.column.title, p.width])).toEqual([['NAME', 14], ['TEXT', 8]])
    // Narrower still: the name shrinks, down to its minimum.
    expect(fitColumns(cols, 20, ['order-checkout']).map((p) => p.width)).toEqual([9, 8])
    expect(fitColumns(cols, 60, ['x'.repeat(40)])[0]!.width).toBe(24)
  })

  it("reads an HTTP error's JSON body as words", () => {
    expect(readableError('HTTP 500: {"error":"card_declined","message":"The card was declined"}')).toBe('HTTP 500 card_declined: The card was declined')
    expect(readableError('HTTP 422: {"error":{"code":"E42","message":"bad sku"}}')).toBe('HTTP 422 E42: bad sku')
    expect(readableError('HTTP 503: {"status":"down","since":"04:00')).toBe('HTTP 503 status: down, since: 04:00')
    expect(readableError('HTTP 500: []')).toBe('HTTP 500: []')
    expect(readableError('timeout after 5s')).toBe('timeout after 5s')
  })

  it('says why a saga is stuck', () => {
    const now = new Date(100 * 60_000)
    const base = { createdAt: new Date(0), updatedAt: new Date(88 * 60_000), leaseOwner: null, dueAt: null, step: 'reserve-inventory', attempts: 3, error: 'HTTP 503' }
    expect(stuckReason({ ...base, status: 'running' }, now)).toBe('no progress for 12m in reserve-inventory (attempt 3: HTTP 503); not scheduled')
    expect(stuckReason({ ...base, status: 'pending', createdAt: new Date(89 * 60_000) }, now)).toBe('pending for 11m: no worker picked it up')
    expect(stuckReason({ ...base, status: 'running', leaseOwner: 'w1', dueAt: new Date(98 * 60_000) }, now)).toBe('lease of worker w1 expired 2m ago')
    expect(stuckReason({ ...base, status: 'compensating', leaseOwner: 'w2', dueAt: new Date(101 * 60_000), attempts: null, error: null }, now)).toBe(
      'no progress for 12m in reserve-inventory compensation; held by worker w2',
    )
  })

  it('formats ages and truncates', () => {
    expect([age(999), age(45_000), age(12 * 60_000), age(3 * 3600_000), age(3 * 86400_000)]).toEqual(['0s', '45s', '12m', '3h', '3d'])
    expect(truncate('abcdef', 4)).toBe('abc…')
    expect(truncate('abc', 4)).toBe('abc')
  })
})
