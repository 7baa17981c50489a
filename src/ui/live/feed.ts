import { errorLine } from '../../errors.js'
import type { ChangeNotice, Saga } from '../../engine/types.js'
import type { HeaderData, MonitorData, SagaDetail } from '../data.js'
import { statusesFor, type LiveFilter, type ViewName, type ViewRows } from '../views.js'
import { createTask, type Task } from './task.js'

export type Listen = (handler: (payload: string) => void) => Promise<() => Promise<void>>

export interface FeedQuery {
  view: ViewName
  filter: LiveFilter
  /** Rows to load for list views: what fits on screen plus a margin to scroll into. */
  limit: number
  detailId: string | null
}

/** Where loaded data goes; the console dispatches each call into its reducer. */
export interface FeedSink {
  header(h: HeaderData): void
  rows<V extends ViewName>(view: V, rows: ViewRows[V]): void
  patch(sagas: Saga[]): void
  detail(id: string, d: SagaDetail | null): void
  definitionNames(names: string[]): void
  /** A failed read (null once reads succeed again), or the loss of live updates. */
  problem(message: string | null): void
}

export interface FeedOptions {
  refreshMs: number
  stuckAfterMs: number
  headerEveryMs?: number
  viewEveryMs?: number
  patchEveryMs?: number
  namesEveryMs?: number
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/**
 * Keeps the console's data current. Notifications drive it: a change to a row on screen
 * re-reads that row only (batched, at most every 100 ms); anything else re-reads the
 * current view's bounded query at most once a second; the header at most once a second.
 * Polling every `refreshMs` is the fallback and catches whatever a notification missed.
 */
export class MonitorFeed {
  private query: FeedQuery
  private generation = 0
  private readonly shown = new Set<string>()
  private readonly dirty = new Set<string>()
  private readonly header: Task
  private readonly view: Task
  private readonly patch: Task
  private readonly detail: Task
  private readonly names: Task
  private unlisten: (() => Promise<void>) | null = null
  private poll: ReturnType<typeof setInterval> | null = null
  private namesTimer: ReturnType<typeof setInterval> | null = null
  private stopped = false
  /** Stays on the status line while reads succeed: the operator should know the view only polls. */
  private listenProblem: string | null = null

  constructor(
    private readonly data: MonitorData,
    private readonly listen: Listen | null,
    private readonly sink: FeedSink,
    private readonly opts: FeedOptions,
    initial: FeedQuery,
  ) {
    this.query = initial
    const failed = (err: unknown): void => this.sink.problem(message(err))
    this.header = createTask(() => this.loadHeader(), opts.headerEveryMs ?? 1000, failed)
    this.view = createTask(() => this.loadView(), opts.viewEveryMs ?? 1000, failed)
    this.patch = createTask(() => this.loadPatch(), opts.patchEveryMs ?? 100, failed)
    this.detail = createTask(() => this.loadDetail(), 250, failed)
    this.names = createTask(() => this.loadNames(), 0, failed)
  }

  async start(): Promise<void> {
    this.header.now()
    this.view.now()
    this.names.now()
    if (this.query.detailId) this.detail.now()
    this.poll = setInterval(() => this.refresh(), this.opts.refreshMs)
    this.namesTimer = setInterval(() => this.names.request(), this.opts.namesEveryMs ?? 30_000)
    if (!this.listen) return
    try {
      const unlisten = await this.listen((payload) => this.notice(payload))
      if (this.stopped) await unlisten()
      else this.unlisten = unlisten
    } catch (err) {
      this.listenProblem = `live updates unavailable (${errorLine(err)}): polling every ${this.opts.refreshMs} ms`
      this.sink.problem(this.listenProblem)
    }
  }

  /** Everything, throttled as usual: the polling fallback, and after an operator action. */
  refresh(): void {
    this.header.request()
    this.view.request()
    if (this.query.detailId) this.detail.request()
  }

  setQuery(next: FeedQuery): void {
    const prev = this.query
    this.query = next
    const viewChanged =
      prev.view !== next.view ||
      prev.limit !== next.limit ||
      prev.filter.status !== next.filter.status ||
      prev.filter.definition !== next.filter.definition ||
      prev.filter.text !== next.filter.text
    if (viewChanged) {
      this.generation++
      this.view.now()
    }
    if (next.detailId && next.detailId !== prev.detailId) this.detail.now()
  }

  notice(payload: string): void {
    if (this.stopped) return
    let notice: ChangeNotice | null = null
    try {
      notice = JSON.parse(payload) as ChangeNotice
    } catch {
      notice = null
    }
    this.header.request()
    const { view, filter, detailId } = this.query
    // Definition stats are aggregates over a day: polling keeps them fresh enough.
    const aggregates = view === 'definitions' || view === 'participants'
    const changes = notice?.changes
    if (!changes) {
      // Too many changes to list (or a payload we cannot read): re-read what is on screen.
      if (!aggregates) this.view.request()
      if (detailId) this.detail.request()
      return
    }
    const wanted = statusesFor(filter.status)
    let reload = view !== 'live' && !aggregates
    for (const c of changes) {
      if (c.id === detailId) this.detail.request()
      if (view !== 'live') continue
      if (this.shown.has(c.id)) this.dirty.add(c.id)
      // A new or changed saga that belongs in the list, or one that no longer does.
      if (!this.shown.has(c.id) ? !wanted || wanted.includes(c.status) : wanted && !wanted.includes(c.status)) reload = true
    }
    if (this.dirty.size > 0) this.patch.request()
    if (reload) this.view.request()
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const t of [this.header, this.view, this.patch, this.detail, this.names]) t.stop()
    if (this.poll) clearInterval(this.poll)
    if (this.namesTimer) clearInterval(this.namesTimer)
    const unlisten = this.unlisten
    this.unlisten = null
    if (unlisten) await unlisten()
  }

  private async loadHeader(): Promise<void> {
    const h = await this.data.header()
    if (this.stopped) return
    this.sink.header(h)
    this.sink.problem(this.listenProblem)
  }

  private async loadView(): Promise<void> {
    const generation = this.generation
    const { view, filter, limit } = this.query
    const rows = await this.readView(view, filter, limit)
    if (this.stopped || generation !== this.generation) return
    if (view === 'live') {
      this.shown.clear()
      for (const s of rows as Saga[]) this.shown.add(s.id)
    }
    this.sink.rows(view, rows)
  }

  private async readView(view: ViewName, filter: LiveFilter, limit: number): Promise<ViewRows[ViewName]> {
    const rows = await readView(this.data, view, { filter, limit, stuckAfterMs: this.opts.stuckAfterMs })
    if (view === 'definitions') this.sink.definitionNames((rows as ViewRows['definitions']).map((r) => r.name))
    return rows
  }

  private async loadPatch(): Promise<void> {
    const ids = [...this.dirty]
    this.dirty.clear()
    if (ids.length === 0) return
    const sagas = await this.data.sagasByIds(ids)
    if (!this.stopped && sagas.length > 0) this.sink.patch(sagas)
  }

  private async loadDetail(): Promise<void> {
    const id = this.query.detailId
    if (!id) return
    const d = await this.data.detail(id)
    if (!this.stopped && this.query.detailId === id) this.sink.detail(id, d)
  }

  private async loadNames(): Promise<void> {
    const rows = await this.data.definitions()
    if (!this.stopped) this.sink.definitionNames(rows.map((r) => r.name))
  }
}

/** One view's rows, as the console reads them. */
export async function readView(data: MonitorData, view: ViewName, q: { filter: LiveFilter; limit: number; stuckAfterMs: number }): Promise<ViewRows[ViewName]> {
  const { filter, limit } = q
  switch (view) {
    case 'live':
      return data.liveSagas({ status: statusesFor(filter.status), definition: filter.definition ?? undefined, text: filter.text || undefined, limit })
    case 'stuck':
      return data.stuck({ stuckAfterMs: q.stuckAfterMs, limit })
    case 'interventions':
      return data.interventions({ limit })
    case 'definitions':
      return data.definitions()
    case 'groups':
      return data.failureGroups({ limit })
    case 'participants':
      return data.participants()
  }
}
