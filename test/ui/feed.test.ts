import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ChangeNotice } from '../../src/engine/types.js'
import { MonitorFeed, type FeedQuery, type FeedSink } from '../../src/ui/live/feed.js'
import { createTask } from '../../src/ui/live/task.js'
import { fakeData, saga } from './helpers.js'

const query = (over: Partial<FeedQuery> = {}): FeedQuery => ({
  view: 'live',
  filter: { status: 'active', definition: null, text: '' },
  limit: 30,
  detailId: null,
  ...over,
})

function sink() {
  const events: Array<{ kind: string; value: unknown }> = []
  const s: FeedSink = {
    header: (h) => events.push({ kind: 'header', value: h }),
    rows: (view, rows) => events.push({ kind: `rows:${view}`, value: rows }),
    patch: (sagas) => events.push({ kind: 'patch', value: sagas }),
    detail: (id, d) => events.push({ kind: 'detail', value: { id, d } }),
    definitionNames: (names) => events.push({ kind: 'names', value: names }),
    problem: (m) => events.push({ kind: 'problem', value: m }),
  }
  return { events, sink: s, count: (kind: string) => events.filter((e) => e.kind === kind).length }
}

const notice = (n: ChangeNotice): string => JSON.stringify(n)

describe('refresh task', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('folds a burst of requests into one run per interval, never overlapping', async () => {
    let runs = 0
    let active = 0
    let maxActive = 0
    const task = createTask(
      async () => {
        runs++
        maxActive = Math.max(maxActive, ++active)
        await new Promise((r) => setTimeout(r, 50))
        active--
      },
      1000,
      () => {},
    )
    task.now()
    for (let i = 0; i < 100; i++) task.request()
    await vi.advanceTimersByTimeAsync(999)
    expect(runs).toBe(1)
    await vi.advanceTimersByTimeAsync(100)
    expect(runs).toBe(2)
    await vi.advanceTimersByTimeAsync(5000)
    expect(runs).toBe(2)
    expect(maxActive).toBe(1)
    task.now()
    task.now()
    await vi.advanceTimersByTimeAsync(200)
    expect(runs).toBe(4)
    task.stop()
  })
})

describe('monitor feed', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  async function started(q = query(), live = [saga(), saga(), saga()], refreshMs = 60_000) {
    const data = fakeData({ live })
    const out = sink()
    let handler: ((p: string) => void) | null = null
    let unlistened = 0
    const listen = async (h: (p: string) => void) => {
      handler = h
      return async () => {
        unlistened++
      }
    }
    const feed = new MonitorFeed(data, listen, out.sink, { refreshMs, stuckAfterMs: 600_000 }, q)
    await feed.start()
    await vi.advanceTimersByTimeAsync(10)
    data.calls.length = 0
    return { data, out, feed, emit: (p: string) => handler!(p), unlistened: () => unlistened, live }
  }

  it('loads the header, the view and the definition names on start', async () => {
    const data = fakeData({ live: [saga()] })
    const out = sink()
    const feed = new MonitorFeed(data, null, out.sink, { refreshMs: 2000, stuckAfterMs: 1 }, query())
    await feed.start()
    await vi.advanceTimersByTimeAsync(10)
    expect(out.count('header')).toBe(1)
    expect(out.count('rows:live')).toBe(1)
    expect(out.count('names')).toBe(1)
    expect(data.calls.find((c) => c.fn === 'liveSagas')?.arg).toEqual({ status: ['pending', 'running', 'compensating', 'suspended'], definition: undefined, text: undefined, limit: 30 })
    await feed.stop()
  })

  it('a change to a row on screen re-reads only that row; the header at most once a second', async () => {
    const { data, out, feed, emit, live } = await started()
    const target = live[1]!
    for (let i = 0; i < 50; i++) emit(notice({ changes: [{ id: target.id, status: 'running', event: 'step.succeeded', step: 's' }], count: 1 }))
    await vi.advanceTimersByTimeAsync(150)
    expect(data.calls.filter((c) => c.fn === 'sagasByIds').map((c) => c.arg)).toEqual([[target.id]])
    expect(data.calls.filter((c) => c.fn === 'liveSagas')).toHaveLength(0)
    expect(out.count('patch')).toBe(1)
    await vi.advanceTimersByTimeAsync(1000)
    expect(data.calls.filter((c) => c.fn === 'header').length).toBeLessThanOrEqual(1)
    await feed.stop()
  })

  it('a new saga that matches the filter reloads the list (bounded, throttled); one that does not is ignored', async () => {
    const { data, feed, emit } = await started()
    emit(notice({ changes: [{ id: 'x', status: 'completed', event: 'saga.completed', step: null }], count: 1 }))
    await vi.advanceTimersByTimeAsync(1100)
    expect(data.calls.filter((c) => c.fn === 'liveSagas')).toHaveLength(0)
    for (let i = 0; i < 20; i++) emit(notice({ changes: [{ id: `n${i}`, status: 'pending', event: 'saga.created', step: null }], count: 1 }))
    await vi.advanceTimersByTimeAsync(1100)
    expect(data.calls.filter((c) => c.fn === 'liveSagas')).toHaveLength(1)
    await feed.stop()
  })

  it('a notice without a list re-reads the view and the open saga', async () => {
    const s = saga()
    const { data, feed, emit } = await started(query({ view: 'stuck', detailId: s.id }))
    emit(notice({ count: 5000 }))
    emit('not json')
    await vi.advanceTimersByTimeAsync(1100)
    expect(data.calls.filter((c) => c.fn === 'stuck')).toHaveLength(1)
    expect(data.calls.filter((c) => c.fn === 'detail')).toHaveLength(1)
    await feed.stop()
  })

  it('the definitions view is not re-read on notices: polling refreshes its day-long aggregates', async () => {
    const { data, feed, emit } = await started(query({ view: 'definitions' }))
    emit(notice({ changes: [{ id: 'x', status: 'completed', event: 'saga.completed', step: null }], count: 1 }))
    emit(notice({ count: 900 }))
    await vi.advanceTimersByTimeAsync(1100)
    expect(data.calls.filter((c) => c.fn === 'definitions')).toHaveLength(0)
    expect(data.calls.filter((c) => c.fn === 'header')).toHaveLength(1)
    await feed.stop()
  })

  it('polls every refreshMs as the fallback', async () => {
    const { data, feed } = await started(query(), [saga()], 2000)
    await vi.advanceTimersByTimeAsync(6100)
    expect(data.calls.filter((c) => c.fn === 'header')).toHaveLength(3)
    expect(data.calls.filter((c) => c.fn === 'liveSagas')).toHaveLength(3)
    await feed.stop()
    await vi.advanceTimersByTimeAsync(10_000)
    expect(data.calls.filter((c) => c.fn === 'header')).toHaveLength(3)
  })

  it('a new query is read at once and a late answer to the old one is dropped', async () => {
    const { out, feed } = await started()
    feed.setQuery(query({ view: 'groups' }))
    feed.setQuery(query({ view: 'interventions', limit: 20 }))
    await vi.advanceTimersByTimeAsync(10)
    expect(out.events.at(-1)?.kind).toBe('rows:interventions')
    expect(out.count('rows:groups')).toBe(0)
    await feed.stop()
  })

  it('stop closes the subscription', async () => {
    const { feed, unlistened } = await started()
    await feed.stop()
    expect(unlistened()).toBe(1)
  })

  it('without LISTEN it says so and keeps polling', async () => {
    const data = fakeData()
    const out = sink()
    const feed = new MonitorFeed(data, () => Promise.reject(new Error('connection refused')), out.sink, { refreshMs: 2000, stuckAfterMs: 1 }, query())
    await feed.start()
    await vi.advanceTimersByTimeAsync(2100)
    const problems = out.events.filter((e) => e.kind === 'problem').map((e) => e.value)
    expect(problems.at(-1)).toBe('live updates unavailable (connection refused): polling every 2000 ms')
    await feed.stop()
  })

  it('a failed read is reported, and cleared by the next good one', async () => {
    const data = fakeData()
    let fail = true
    const header = data.header
    data.header = () => (fail ? Promise.reject(new Error('database unreachable')) : header())
    const out = sink()
    const feed = new MonitorFeed(data, null, out.sink, { refreshMs: 2000, stuckAfterMs: 1 }, query())
    await feed.start()
    await vi.advanceTimersByTimeAsync(10)
    expect(out.events.filter((e) => e.kind === 'problem').at(-1)?.value).toBe('database unreachable')
    fail = false
    await vi.advanceTimersByTimeAsync(2100)
    expect(out.events.filter((e) => e.kind === 'problem').at(-1)?.value).toBeNull()
    await feed.stop()
  })
})
