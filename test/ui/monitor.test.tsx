import { afterEach, describe, expect, it } from 'vitest'
import type { ForkPlan } from '../../src/engine/fork.js'
import type { MigratePlan } from '../../src/engine/migrate.js'
import type { Saga } from '../../src/engine/types.js'
import { ChangedError, ConflictError, UsageError } from '../../src/errors.js'
import type { Database } from '../../src/db/types.js'
import { runMonitor } from '../../src/ui/run-monitor.js'
import { Monitor } from '../../src/ui/screens/Monitor.js'
import { eventually, fakeActions, fakeData, intervention, KEY, renderAt, saga, type Fixtures, type Rendered } from './helpers.js'

const mounted: Rendered[] = []
afterEach(() => {
  for (const m of mounted.splice(0)) m.unmount()
})

const running = saga({ status: 'running', definition: 'order-checkout' })
const suspended = saga({ status: 'suspended', definition: 'refund', currentStep: 'process-payment', revision: 7, lastError: 'HTTP 503' })
const pending = saga({ status: 'pending', definition: 'order-checkout', currentStep: null })
const id8 = (s: Saga): string => s.id.slice(0, 13)

function setup(opts: { fixtures?: Partial<Fixtures>; actions?: ReturnType<typeof fakeActions> } = {}) {
  const data = fakeData({ live: [running, suspended, pending], definitions: [], ...opts.fixtures })
  const actions = opts.actions ?? fakeActions()
  let handler: ((payload: string) => void) | null = null
  let unlistened = 0
  const listen = async (h: (p: string) => void) => {
    handler = h
    return async () => {
      unlistened++
    }
  }
  const r = renderAt(<Monitor data={data} listen={listen} actions={actions} operator="alice" refreshMs={60_000} />, { columns: 100, rows: 30 })
  mounted.push(r)
  return { r, data, actions, notify: (payload: unknown) => handler?.(JSON.stringify(payload)), unlistened: () => unlistened }
}

async function ready(r: Rendered): Promise<void> {
  await eventually(() => expect(r.frame()).toContain(id8(pending)))
}

const selectedLine = (r: Rendered): string => r.frame().split('\n').find((l) => l.startsWith('› ')) ?? ''

describe('keys', () => {
  it('1-6 and Tab switch views', async () => {
    const { r } = setup()
    await ready(r)
    const headers: Array<[string, RegExp]> = [
      ['2', /IDLE WHY/],
      ['3', /SAGA .* OPEN REASON/],
      ['4', /VER +ACTIVE/],
      ['5', /COUNT DEFINITION/],
      ['6', /PARTICIPANT +STATE/],
      ['1', /ID +DEFINITION +STATUS/],
    ]
    for (const [k, header] of headers) {
      await r.press(k)
      await eventually(() => expect(r.frame()).toMatch(header))
    }
    await r.press(KEY.tab)
    await eventually(() => expect(r.frame()).toMatch(/IDLE WHY/))
    await r.press(KEY.shiftTab, KEY.shiftTab)
    await eventually(() => expect(r.frame()).toMatch(/PARTICIPANT +STATE/))
  })

  it('arrows, PageDown, Home and End move the selection', async () => {
    const { r } = setup()
    await ready(r)
    expect(selectedLine(r)).toContain(id8(running))
    await r.press(KEY.down)
    expect(selectedLine(r)).toContain(id8(suspended))
    await r.press(KEY.end)
    expect(selectedLine(r)).toContain(id8(pending))
    await r.press(KEY.up)
    expect(selectedLine(r)).toContain(id8(suspended))
    await r.press(KEY.home)
    expect(selectedLine(r)).toContain(id8(running))
    await r.press(KEY.pageDown)
    expect(selectedLine(r)).toContain(id8(pending))
  })

  it('/ types a text filter, s and d cycle status and definition', async () => {
    const { r, data } = setup({ fixtures: { definitions: [{ name: 'order-checkout', latestVersion: 1, active: 2, completed: 0, compensated: 0, failed: 0, successRate: null }] } })
    await ready(r)
    await r.press('/')
    await r.type('refund')
    expect(r.frame()).toContain('/ refund')
    await r.press(KEY.enter)
    await eventually(() => expect(r.frame()).not.toContain(id8(pending)))
    expect(r.frame()).toContain(id8(suspended))
    expect(r.frame()).toContain('text "refund"')
    expect(data.calls.filter((c) => c.fn === 'liveSagas').at(-1)?.arg).toMatchObject({ text: 'refund' })

    await r.press('/', KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, KEY.enter)
    await eventually(() => expect(r.frame()).toContain(id8(pending)))
    await r.press('s')
    await eventually(() => expect(r.frame()).toContain('status pending'))
    expect(r.frame()).not.toContain(id8(running))
    expect(data.calls.filter((c) => c.fn === 'liveSagas').at(-1)?.arg).toMatchObject({ status: ['pending'] })
    await r.press('d')
    await eventually(() => expect(r.frame()).toContain('definition order-checkout'))
    expect(data.calls.filter((c) => c.fn === 'liveSagas').at(-1)?.arg).toMatchObject({ status: ['pending'], definition: 'order-checkout' })
  })

  it('Esc leaves the filter being typed unchanged', async () => {
    const { r } = setup()
    await ready(r)
    await r.press('/')
    await r.type('zzz')
    await r.press(KEY.escape)
    expect(r.frame()).toContain('text -')
    expect(r.frame()).toContain(id8(pending))
  })

  it('? toggles the help overlay', async () => {
    const { r } = setup()
    await ready(r)
    await r.press('?')
    expect(r.frame()).toContain('Keys')
    expect(r.frame()).toContain('failure groups: retry / compensate the whole group')
    await r.press('?')
    expect(r.frame()).not.toContain('Keys')
    expect(r.frame()).toContain(id8(pending))
  })

  it('Enter opens the saga, Esc goes back', async () => {
    const { r } = setup({ fixtures: { details: { [suspended.id]: { saga: suspended, steps: [], events: [], intervention: null, now: new Date() } } } })
    await ready(r)
    await r.press(KEY.down, KEY.enter)
    await eventually(() => expect(r.frame()).toContain(`${suspended.id} refund v1 suspended rev 7`))
    await r.press(KEY.escape)
    expect(r.frame()).toMatch(/ID +DEFINITION +STATUS/)
  })

  for (const [name, key] of [
    ['q', 'q'],
    ['Ctrl-C', KEY.ctrlC],
  ] as const) {
    it(`${name} quits and closes the subscription`, async () => {
      const { r, unlistened } = setup()
      await ready(r)
      const exited = r.waitUntilExit()
      await r.press(key)
      await exited
      expect(unlistened()).toBe(1)
    })
  }
})

describe('live updates', () => {
  it('a notice about a row on screen re-reads it and shows the new state', async () => {
    const { r, data, notify } = setup()
    await ready(r)
    const updated = { ...running, status: 'compensating' as const, revision: running.revision + 1 }
    data.fixtures.live = data.fixtures.live.map((s) => (s.id === running.id ? updated : s))
    notify({ changes: [{ id: running.id, status: 'compensating', event: 'saga.compensating', step: 'reserve-inventory' }], count: 1 })
    await eventually(() => expect(r.frame()).toMatch(new RegExp(`${id8(running)} +order-checkout +compensating`)))
    expect(data.calls.filter((c) => c.fn === 'sagasByIds').map((c) => c.arg)).toEqual([[running.id]])
  })
})

describe('operator actions', () => {
  async function onSuspended(opts: Parameters<typeof setup>[0] = {}) {
    const s = setup(opts)
    await ready(s.r)
    await s.r.press(KEY.down)
    return s
  }

  it('r: confirm with a reason, the engine gets the reason and the revision on screen', async () => {
    const { r, actions } = await onSuspended()
    await r.press('r')
    expect(r.frame()).toContain(`Retry`)
    expect(r.frame()).toContain(`saga ${id8(suspended)} · refund · rev 7`)
    expect(r.frame()).toContain('suspended · step process-payment')
    await r.type('payment service is back')
    await r.press(KEY.enter)
    await eventually(() => expect(r.frame()).toContain(`retried saga ${id8(suspended)}: now running`))
    expect(actions.calls).toEqual([{ method: 'retry', id: suspended.id, ctx: { operator: 'alice', reason: 'payment service is back', expectedRevision: 7 } }])
  })

  it('a chunk of keys (a paste, tmux send-keys) is taken key by key', async () => {
    const { r, actions } = await onSuspended()
    await r.press('rservice is back\r')
    await eventually(() => expect(r.frame()).toContain(`retried saga ${id8(suspended)}: now running`))
    expect(actions.calls).toEqual([{ method: 'retry', id: suspended.id, ctx: { operator: 'alice', reason: 'service is back', expectedRevision: 7 } }])
  })

  it('a saga that changed meanwhile shows as changed meanwhile: …', async () => {
    const actions = fakeActions({ fail: () => new ChangedError('saga changed since you looked (revision 8, expected 7)') })
    const { r } = await onSuspended({ actions })
    await r.press('r', KEY.enter)
    await eventually(() => expect(r.frame()).toContain('changed meanwhile: saga changed since you looked (revision 8, expected 7)'))
  })

  it('Esc cancels without calling the engine', async () => {
    const { r, actions } = await onSuspended()
    await r.press('a')
    await r.type('oops')
    await r.press(KEY.escape)
    expect(r.frame()).not.toContain('Abort')
    expect(actions.calls).toEqual([])
  })

  it('a: a reason is required before the abort goes through', async () => {
    const { r, actions } = await onSuspended()
    await r.press('a', KEY.enter)
    expect(r.frame()).toContain('a reason is required')
    expect(actions.calls).toEqual([])
    await r.type('duplicate order')
    await r.press(KEY.enter)
    await eventually(() => expect(r.frame()).toContain(`aborted saga ${id8(suspended)}: now failed`))
    expect(actions.calls[0]).toMatchObject({ method: 'abort', ctx: { reason: 'duplicate order', expectedRevision: 7 } })
  })

  it('k: the step defaults to the current one and can be changed', async () => {
    const { r, actions } = await onSuspended()
    await r.press('k')
    expect(r.frame()).toMatch(/step +process-payment/)
    await r.type('charged by hand')
    await r.press(KEY.shiftTab)
    for (let i = 0; i < 'payment'.length; i++) await r.press(KEY.backspace)
    await r.type('refund')
    await r.press(KEY.enter)
    await eventually(() => expect(actions.calls).toHaveLength(1))
    expect(actions.calls[0]).toMatchObject({ method: 'skip', id: suspended.id, ctx: { step: 'process-refund', reason: 'charged by hand', expectedRevision: 7 } })
  })

  it('c: the confirmation shows the compensation plan', async () => {
    const plan = {
      sagaId: suspended.id,
      status: 'suspended' as const,
      allowed: true,
      refusal: null,
      steps: [
        { step: 'reserve-inventory', index: 1, order: 2, compensate: true, why: 'action succeeded' },
        { step: 'process-payment', index: 2, order: 1, compensate: true, why: 'outcome unknown' },
      ],
    }
    const { r, actions } = await onSuspended({ actions: fakeActions({ plan }) })
    await r.press('c')
    await eventually(() => expect(r.frame()).toContain('Plan: undo 2 steps, in this order'))
    expect(r.frame()).toMatch(/1\. process-payment: outcome unknown[\s\S]*2\. reserve-inventory: action succeeded/)
    await r.press(KEY.enter)
    await eventually(() => expect(r.frame()).toContain(`compensating saga ${id8(suspended)}: now compensating`))
    expect(actions.calls.map((c) => c.method)).toEqual(['compensationPlan', 'compensate'])
  })

  it('c on a saga suspended in compensation says up front it would be refused, and Enter calls nothing', async () => {
    const stuckUndoing = saga({ status: 'suspended', definition: 'refund', currentStep: 'reserve-inventory', compensationPlan: [1, 0], revision: 4 })
    const refusal = `saga ${stuckUndoing.id} is already compensating (suspended in compensation: use retry or skip)`
    const plan = { sagaId: stuckUndoing.id, status: 'suspended' as const, allowed: false, refusal, steps: [] }
    const { r, actions } = setup({ fixtures: { live: [stuckUndoing] }, actions: fakeActions({ plan }) })
    await eventually(() => expect(r.frame()).toContain(id8(stuckUndoing)))
    await r.press('c')
    // Known from the row before the plan arrives, and kept once the engine's plan says the same.
    await eventually(() => expect(r.frame()).toContain('would be refused: the saga is already compensating'))
    await eventually(() => expect(actions.calls.map((c) => c.method)).toEqual(['compensationPlan']))
    await eventually(() => expect(r.frame()).toContain('already compensating (suspended in compensation'))
    expect(r.frame()).toContain('Esc close')
    await r.type('no matter')
    await r.press(KEY.enter)
    await eventually(() => expect(r.frame()).toContain('refused: '))
    expect(actions.calls.map((c) => c.method)).toEqual(['compensationPlan'])
  })

  it('C on a group names the sagas it would be refused on, leaves them alone and tallies them as refused', async () => {
    const members = [saga(), saga(), saga()].map((s, i) => ({ id: s.id, revision: 20 + i, status: 'suspended' as const, inCompensation: i === 1 }))
    const group = { key: 'g2', definition: 'refund', step: 'release', error: 'HTTP #', sample: 'HTTP 500', count: 3, statuses: ['suspended' as const], sagas: members }
    const actions = fakeActions()
    const { r } = setup({ fixtures: { groups: [group] }, actions })
    await ready(r)
    await r.press('5')
    await eventually(() => expect(r.frame()).toContain('HTTP #'))
    await r.press('C')
    expect(r.frame()).toContain('Compensate the group')
    expect(r.frame()).toContain('1 of 3 would be refused and are left alone: is already compensating')
    await r.press(KEY.enter)
    await eventually(() => expect(r.frame()).toContain('compensate: 2 succeeded, 1 refused, 0 changed, 0 failed'))
    expect(actions.calls.map((c) => c.id)).toEqual([members[0]!.id, members[2]!.id])
  })

  it('v in the intervention queue: choose the action, write a note', async () => {
    const iv = intervention(suspended)
    const { r, actions } = setup({ fixtures: { interventions: [iv] } })
    await ready(r)
    await r.press('3')
    await eventually(() => expect(r.frame()).toContain('compensation of process-payment'))
    await r.press('v', KEY.right, KEY.tab)
    await r.type('refund confirmed with the PSP')
    await r.press(KEY.enter)
    await eventually(() => expect(actions.calls).toHaveLength(1))
    expect(actions.calls[0]).toMatchObject({
      method: 'resolveIntervention',
      id: iv.intervention.id,
      ctx: { operator: 'alice', action: 'skip', note: 'refund confirmed with the PSP', expectedRevision: 7 },
    })
  })

  it('v on a saga looks up its open intervention', async () => {
    const iv = intervention(suspended)
    const { r, actions } = await onSuspended({
      fixtures: { details: { [suspended.id]: { saga: suspended, steps: [], events: [], intervention: iv.intervention, now: new Date() } } },
    })
    await r.press('v')
    await eventually(() => expect(r.frame()).toContain('intervention: compensation of process-payment failed 5 times'))
    await r.press('a', KEY.tab)
    await r.type('customer refunded by phone')
    await r.press(KEY.enter)
    await eventually(() => expect(actions.calls).toHaveLength(1))
    expect(actions.calls[0]).toMatchObject({ method: 'resolveIntervention', id: iv.intervention.id, ctx: { action: 'abort' } })
  })

  describe('fork and migrate from the saga detail', () => {
    const detail = { details: { [suspended.id]: { saga: suspended, steps: [], events: [], intervention: null, now: new Date() } } }
    const STEPS = ['reserve-inventory', 'process-payment', 'ship-order']
    const forkPlan = (id: string, o: Record<string, unknown>): ForkPlan => {
      const from = STEPS.indexOf((o.fromStep as string | undefined) ?? STEPS[0]!)
      const refusal = from === 2 ? `saga ${id} has not finished step "process-payment": fork from "process-payment" or an earlier step` : null
      return {
        sagaId: id, status: 'suspended', definition: 'refund', fromVersion: 1, version: o.version === 'latest' ? 2 : 1, fromStep: STEPS[from]!, key: null, inputReplaced: false,
        allowed: refusal === null, refusal,
        steps: STEPS.map((step, index) => ({ step, index, action: index < from ? ('keep' as const) : ('call' as const), status: index === 0 ? ('succeeded' as const) : index === 1 ? ('failed' as const) : null })),
      }
    }
    const migratePlan = (refusal: string | null) => (id: string): MigratePlan => ({
      sagaId: id, status: 'suspended', definition: 'refund', fromVersion: 1, toVersion: 2, currentStep: 'process-payment', allowed: refusal === null, refusal: refusal && `saga ${id} ${refusal}`,
      steps: STEPS.map((step, i) => ({ step, from: i, to: i, ran: i < 2, changed: i === 1 })),
    })
    async function inDetail(actions: ReturnType<typeof fakeActions>) {
      const s = setup({ fixtures: detail, actions })
      await ready(s.r)
      await s.r.press(KEY.down, KEY.enter)
      await eventually(() => expect(s.r.frame()).toContain(`${suspended.id} refund v1 suspended rev 7`))
      return s
    }

    it('f: the plan of what is kept and called; a changed version asks for the plan again before the fork goes through', async () => {
      const { r, actions } = await inDetail(fakeActions({ forkPlan }))
      await r.press('f')
      await eventually(() => expect(r.frame()).toContain('Plan: a new saga on refund@1, from process-payment; keeps 1'))
      expect(r.frame()).toMatch(/from +process-payment/)
      expect(r.frame()).toContain('keep  reserve-inventory: its output, not called')
      expect(r.frame()).toContain('call  process-payment')
      await r.type('card replaced')
      await r.press(KEY.shiftTab)
      await r.type('latest')
      expect(r.frame()).toContain('Enter show the plan for these values')
      await r.press(KEY.enter)
      await eventually(() => expect(r.frame()).toContain('Plan: a new saga on refund@2, from process-payment'))
      expect(actions.calls.map((c) => c.method)).toEqual(['forkPlan', 'forkPlan'])
      await r.press(KEY.enter)
      await eventually(() => expect(r.frame()).toMatch(new RegExp(`forked saga ${id8(suspended)} as \\S+ \\(order-checkout@2\\): now running`)))
      expect(actions.calls.at(-1)).toEqual({ method: 'fork', id: suspended.id, ctx: { operator: 'alice', reason: 'card replaced', expectedRevision: 7, fromStep: 'process-payment', version: 'latest' } })
    })

    it('f from a step the original has not finished: the new plan says it would be refused, and Enter forks nothing', async () => {
      const { r, actions } = await inDetail(fakeActions({ forkPlan }))
      await r.press('f')
      await eventually(() => expect(r.frame()).toContain('keeps 1'))
      await r.type('retry later')
      await r.press(KEY.shiftTab, KEY.shiftTab)
      for (let i = 0; i < 'process-payment'.length; i++) await r.press(KEY.backspace)
      await r.type('ship-order')
      await r.press(KEY.enter)
      await eventually(() => expect(r.frame()).toContain('would be refused: the saga has not finished step "process-payment"'))
      await r.press(KEY.enter)
      await eventually(() => expect(r.frame()).toContain('refused: the saga has not finished step'))
      expect(actions.calls.map((c) => c.method)).toEqual(['forkPlan', 'forkPlan'])
      await r.press(KEY.escape)
      expect(actions.calls.map((c) => c.method)).toEqual(['forkPlan', 'forkPlan'])
    })

    it('m: the step mapping, then the move with a reason and the revision on screen', async () => {
      const { r, actions } = await inDetail(fakeActions({ migratePlan: migratePlan(null) }))
      await r.press('m')
      await eventually(() => expect(r.frame()).toContain('Plan: @1 -> @2, continuing at process-payment'))
      expect(r.frame()).toMatch(/version +latest/)
      expect(r.frame()).toContain('process-payment: 2 -> 2, ran, changed')
      await r.press(KEY.enter)
      expect(r.frame()).toContain('a reason is required')
      await r.type('payment URL fixed')
      await r.press(KEY.enter)
      await eventually(() => expect(r.frame()).toContain(`moved saga ${id8(suspended)} to version 2: now suspended`))
      expect(actions.calls.map((c) => c.method)).toEqual(['migratePlan', 'migrate'])
      expect(actions.calls[1]).toEqual({ method: 'migrate', id: suspended.id, ctx: { operator: 'alice', reason: 'payment URL fixed', expectedRevision: 7, toVersion: 'latest' } })
    })

    it('m on a saga the move would be refused on says why up front and moves nothing', async () => {
      const { r, actions } = await inDetail(fakeActions({ migratePlan: migratePlan('already ran step "process-payment", which version 2 does not have') }))
      await r.press('m')
      await eventually(() => expect(r.frame()).toContain('would be refused: the saga already ran step "process-payment", which version 2 does not have'))
      await r.type('try anyway')
      await r.press(KEY.enter)
      await eventually(() => expect(r.frame()).toContain('refused: the saga already ran step'))
      expect(actions.calls.map((c) => c.method)).toEqual(['migratePlan'])
    })
  })

  it('R on a failure group acts saga by saga and tallies the outcome', async () => {
    const members = [saga(), saga(), saga()].map((s, i) => ({ id: s.id, revision: 10 + i }))
    const group = { key: 'g', definition: 'order-checkout', step: 'reserve-inventory', error: 'HTTP #', sample: 'HTTP 503', count: 3, statuses: ['running' as const], sagas: members }
    const actions = fakeActions({
      fail: (_m, id) => (id === members[1]!.id ? new ConflictError('changed') : id === members[2]!.id ? new Error('connection reset') : null),
    })
    const { r } = setup({ fixtures: { groups: [group] }, actions })
    await ready(r)
    await r.press('5')
    await eventually(() => expect(r.frame()).toContain('HTTP #'))
    await r.press('R')
    expect(r.frame()).toContain('Retry the group')
    expect(r.frame()).toContain('3 sagas: order-checkout / reserve-inventory / HTTP #')
    await r.type('inventory service restarted')
    await r.press(KEY.enter)
    await eventually(() => expect(r.frame()).toContain('retry: 1 succeeded, 1 refused, 0 changed, 1 failed'))
    expect(actions.calls.map((c) => [c.method, c.id, c.ctx.expectedRevision, c.ctx.reason])).toEqual(
      members.map((m) => ['retry', m.id, m.revision, 'inventory service restarted']),
    )
  })

  it('6 shows the participants; p pauses the selected one with a reason, u resumes it', async () => {
    const pay = { name: 'payments', state: 'open' as const, callsLastMinute: 9, errorRate: 1, p50Ms: 5, p95Ms: 10, inFlight: 0, sagasWaiting: 183, maxInFlight: null, rps: null, operatorRps: null, circuit: null, circuitState: 'open' as const, openedAt: null, paused: null }
    const { r, actions } = setup({ fixtures: { participants: [pay] } })
    await ready(r)
    await r.press('p')
    expect(r.frame()).toContain('p pauses and u resumes a participant: press 6')
    await r.press('6')
    await eventually(() => expect(r.frame()).toMatch(/payments\s+open/))
    await r.press('p')
    expect(r.frame()).toContain('Pause the participant')
    await r.press(KEY.enter)
    expect(r.frame()).toContain('a reason is required')
    await r.type('PSP outage, incident 77')
    await r.press(KEY.enter)
    await eventually(() => expect(r.frame()).toContain('paused payments: no new calls'))
    await r.press('u', KEY.enter)
    await eventually(() => expect(r.frame()).toContain('resumed payments'))
    expect(actions.calls.map((c) => [c.method, c.id, c.ctx.operator, c.ctx.reason])).toEqual([
      ['pauseParticipant', 'payments', 'alice', 'PSP outage, incident 77'],
      ['resumeParticipant', 'payments', 'alice', undefined],
    ])
  })

  it('actions need a selection: R outside the groups view says where to go', async () => {
    const { r, actions } = setup()
    await ready(r)
    await r.press('R')
    expect(r.frame()).toContain('R and C act on a failure group')
    await r.press('4', 'r')
    expect(r.frame()).toContain('select a saga first')
    expect(actions.calls).toEqual([])
  })
})

describe('runMonitor', () => {
  it('refuses to run without a terminal', async () => {
    const notTty = { isTTY: false } as unknown as NodeJS.WriteStream
    const run = runMonitor({ db: {} as Database, actions: fakeActions(), operator: 'op', stdout: notTty })
    await expect(run).rejects.toThrow(UsageError)
    await expect(run).rejects.toThrow('monitor needs a terminal')
  })
})
