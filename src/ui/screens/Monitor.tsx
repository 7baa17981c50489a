import { Box, useApp, useStdout } from 'ink'
import { useCallback, useEffect, useReducer, useRef, useState, type Dispatch } from 'react'
import type { OperatorActions } from '../../engine/actions.js'
import { ConfirmDialog } from '../components/dialog/ConfirmDialog.js'
import type { DialogIntent } from '../components/dialog/dialog-keys.js'
import { isRepair, repairInputs, type DialogState } from '../components/dialog/dialog-state.js'
import { DetailPane } from '../components/DetailPane.js'
import { FilterBar } from '../components/FilterBar.js'
import { Header } from '../components/Header.js'
import { HelpOverlay } from '../components/HelpOverlay.js'
import { StatusLine } from '../components/StatusLine.js'
import { ViewTable } from '../components/ViewTable.js'
import type { MonitorData } from '../data.js'
import type { Listen } from '../live/feed.js'
import type { Intent } from '../monitor/keys.js'
import { initialState, monitorReducer, type MonitorAction, type MonitorState } from '../monitor/state.js'
import { useEffects } from '../monitor/use-effects.js'
import { useMonitorFeed } from '../monitor/use-feed.js'
import { useMonitorInput } from '../monitor/use-monitor-input.js'

export interface MonitorProps {
  data: MonitorData
  /** Subscribes to change notifications; null = polling only. */
  listen: Listen | null
  actions: OperatorActions
  operator: string
  refreshMs?: number
  stuckAfterMs?: number
}

const HEADER_LINES = 3
const STATUS_LINES = 1

/**
 * useReducer, plus a ref that holds the state with every dispatched action already applied.
 * React may render a dispatch later than the next key arrives; keys are interpreted against
 * the ref, so a fast typist's second key never lands on the state before their first. The
 * reducer is pure, so applying it here and again in React gives the same state.
 */
function useEagerReducer(init: () => MonitorState): [MonitorState, Dispatch<MonitorAction>, { readonly current: MonitorState }] {
  const [state, dispatchToReact] = useReducer(monitorReducer, undefined, init)
  const current = useRef(state)
  const dispatch = useCallback((action: MonitorAction) => {
    current.current = monitorReducer(current.current, action)
    dispatchToReact(action)
  }, [])
  return [state, dispatch, current]
}

function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout()
  const read = () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 })
  const [size, setSize] = useState(read)
  useEffect(() => {
    const onResize = () => setSize(read())
    stdout.on('resize', onResize)
    return () => {
      stdout.off('resize', onResize)
    }
  }, [stdout])
  return size
}

/**
 * The console's root: owns the state, the feed and the exit. Quitting stops the feed
 * (polling and LISTEN) before Ink unmounts, so the caller can restore the terminal and
 * close the database without a query still in flight.
 */
export function Monitor({ data, listen, actions, operator, refreshMs = 2000, stuckAfterMs = 600_000 }: MonitorProps) {
  const { exit } = useApp()
  const { columns, rows } = useTerminalSize()
  // One line short of the screen: a frame as tall as the terminal makes Ink clear it on every render.
  const height = Math.max(10, rows - 1)
  const [state, dispatch, current] = useEagerReducer(() => initialState(Math.max(1, height - 6)))
  const feed = useMonitorFeed({ data, listen, refreshMs, stuckAfterMs }, state, dispatch)
  const quitting = useRef(false)

  const quit = useCallback(() => {
    if (quitting.current) return
    quitting.current = true
    const f = feed.current
    void (f ? f.stop() : Promise.resolve()).finally(() => exit())
  }, [exit, feed])

  const perform = useEffects({ data, actions, operator, feed, dispatch, quit })
  const onIntents = useCallback(
    (intents: Intent[]) => {
      for (const i of intents) {
        if (i.type === 'dispatch') dispatch(i.action)
        else perform(i.effect)
      }
    },
    [perform],
  )
  const onDialog = useCallback(
    (intent: DialogIntent, dialog: DialogState) => {
      if (intent.type === 'update') dispatch({ type: 'dialog', action: intent.action })
      else if (intent.type === 'cancel') dispatch({ type: 'dialog-close' })
      else if (intent.type === 'quit') quit()
      else if (intent.type === 'repair-plan') {
        if (dialog.target && isRepair(dialog.kind)) perform({ type: 'load-repair-plan', sagaId: dialog.target.sagaId, kind: dialog.kind, inputs: repairInputs(dialog) })
      } else perform({ type: 'submit', dialog })
    },
    [perform, quit],
  )
  useMonitorInput(current, { onIntents, onDialog })

  const showFilter = state.view === 'live' && !state.detail && !state.help && !state.dialog
  const body = height - HEADER_LINES - STATUS_LINES - (showFilter ? 1 : 0)
  const pageSize = Math.max(1, body - 1)
  useEffect(() => {
    dispatch({ type: 'resize', pageSize })
  }, [pageSize])

  const now = Date.now() + state.clockSkewMs
  let main
  if (state.dialog) main = <ConfirmDialog dialog={state.dialog} width={columns} height={body} />
  else if (state.help) main = <HelpOverlay width={columns} height={body} />
  else if (state.detail) main = <DetailPane detail={state.detail} width={columns} height={body} now={now} />
  else {
    main = (
      <ViewTable
        view={state.view}
        rows={state.rows}
        loaded={state.loaded[state.view]}
        cursor={state.cursor[state.view]}
        height={pageSize}
        width={columns}
        now={now}
      />
    )
  }
  return (
    <Box flexDirection="column" width={columns} height={height}>
      <Header header={state.header} view={state.view} width={columns} />
      {showFilter ? <FilterBar filter={state.filter} input={state.filterInput} width={columns} /> : null}
      <Box flexDirection="column" height={body} overflow="hidden">
        {main}
      </Box>
      <StatusLine status={state.status} problem={state.problem} busy={state.busy} width={columns} />
    </Box>
  )
}
