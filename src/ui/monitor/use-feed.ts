import { useEffect, useRef, type Dispatch } from 'react'
import type { MonitorData } from '../data.js'
import { MonitorFeed, type Listen } from '../live/feed.js'
import type { MonitorAction, MonitorState } from './state.js'

export interface FeedSettings {
  data: MonitorData
  listen: Listen | null
  refreshMs: number
  stuckAfterMs: number
}

/** Rows to load: three screens, more as the selection goes down, never unbounded. */
export function rowLimit(s: MonitorState): number {
  const page = Math.max(1, s.pageSize)
  const pagesDown = Math.floor(s.cursor[s.view].index / page)
  return Math.min(1000, (pagesDown + 3) * page)
}

/** Starts the feed with the console, tells it what is on screen, stops it on unmount. */
export function useMonitorFeed(settings: FeedSettings, state: MonitorState, dispatch: Dispatch<MonitorAction>): { current: MonitorFeed | null } {
  const feed = useRef<MonitorFeed | null>(null)
  const limit = rowLimit(state)
  const query = { view: state.view, filter: state.filter, limit, detailId: state.detail?.id ?? null }

  useEffect(() => {
    const f = new MonitorFeed(
      settings.data,
      settings.listen,
      {
        header: (header) => dispatch({ type: 'header', header, receivedAt: Date.now() }),
        rows: (view, rows) => dispatch({ type: 'rows', view, rows }),
        patch: (sagas) => dispatch({ type: 'patch', sagas }),
        detail: (id, data) => dispatch({ type: 'detail', id, data }),
        definitionNames: (names) => dispatch({ type: 'names', names }),
        problem: (message) => dispatch({ type: 'problem', message }),
      },
      { refreshMs: settings.refreshMs, stuckAfterMs: settings.stuckAfterMs },
      query,
    )
    feed.current = f
    void f.start()
    return () => {
      void f.stop()
    }
    // The feed lives as long as the console; query changes go through setQuery below.
  }, [settings.data, settings.listen])

  useEffect(() => {
    feed.current?.setQuery(query)
  }, [query.view, query.filter, query.limit, query.detailId])

  return feed
}
