// `sagactl monitor --json`: what the console's screen would show, read once. No Ink, no
// React: the same reads as the console, with the filter it opens with.
import type { HeaderData, MonitorData } from './data.js'
import { readView } from './live/feed.js'
import { VIEWS, type ViewRows } from './views.js'

export interface MonitorSnapshot {
  header: HeaderData
  /** Each view's rows, as its tab would list them (live: the active sagas). */
  views: ViewRows
}

export async function monitorSnapshot(data: MonitorData, opts: { stuckAfterMs: number; limit: number }): Promise<MonitorSnapshot> {
  const filter = { status: 'active' as const, definition: null, text: '' }
  const [header, ...rows] = await Promise.all([data.header(), ...VIEWS.map((view) => readView(data, view, { filter, limit: opts.limit, stuckAfterMs: opts.stuckAfterMs }))])
  const views = Object.fromEntries(VIEWS.map((view, i) => [view, rows[i]])) as unknown as ViewRows
  return { header, views }
}
