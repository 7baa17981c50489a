import { render } from 'ink-testing-library'
import { afterEach, describe, expect, it } from 'vitest'
import type { StepRecord } from '../../src/engine/types.js'
import type { ParticipantSummary } from '../../src/engine/participants/controls.js'
import { ConfirmDialog } from '../../src/ui/components/dialog/ConfirmDialog.js'
import { dialogReducer, openDialog } from '../../src/ui/components/dialog/dialog-state.js'
import { DetailPane } from '../../src/ui/components/DetailPane.js'
import { Header } from '../../src/ui/components/Header.js'
import { HelpOverlay } from '../../src/ui/components/HelpOverlay.js'
import { StatusLine } from '../../src/ui/components/StatusLine.js'
import { textValue } from '../../src/ui/components/text-input/edit.js'
import { ViewTable } from '../../src/ui/components/ViewTable.js'
import type { SagaDetail } from '../../src/ui/data.js'
import { Monitor } from '../../src/ui/screens/Monitor.js'
import { emptyRows, type ViewName, type ViewRows } from '../../src/ui/views.js'
import { eventually, fakeActions, fakeData, header, intervention, renderAt, saga, strip, type Rendered } from './helpers.js'

// ink-testing-library's stdout is 100 columns wide: the components get the same width.
const WIDTH = 100
const NOW = Date.now()
const mounted: Array<{ unmount: () => void }> = []
afterEach(() => {
  for (const m of mounted.splice(0)) m.unmount()
})
const draw = (el: React.ReactElement): string => {
  const r = render(el)
  mounted.push(r)
  return strip(r.lastFrame())
}

const suspended = saga({ status: 'suspended', currentStep: 'process-payment', lastError: 'HTTP 503 from payment', revision: 7 })
const running = saga({ status: 'running', definition: 'refund', currentStep: 'reserve-inventory' })

const rows: ViewRows = {
  ...emptyRows(),
  live: [suspended, running],
  stuck: [{ saga: running, why: 'no progress for 12m in reserve-inventory (attempt 3: HTTP 503)', idleMs: 720_000, attempts: 3, now: new Date() }],
  interventions: [intervention(suspended)],
  definitions: [
    { name: 'order-checkout', latestVersion: 3, active: 352, completed: 1200, compensated: 30, failed: 2, successRate: 1200 / 1232 },
    { name: 'refund', latestVersion: 1, active: 0, completed: 0, compensated: 0, failed: 0, successRate: null },
  ],
  groups: [
    {
      key: 'g1',
      definition: 'order-checkout',
      step: 'reserve-inventory',
      error: 'HTTP # for order #',
      sample: 'HTTP 503 for order 42',
      count: 37,
      statuses: ['running'],
      sagas: [{ id: running.id, revision: 3 }],
    },
  ],
}

function table(view: ViewName): string {
  const cursor = { index: 0, offset: 0, key: null }
  return draw(<ViewTable view={view} rows={rows} loaded cursor={cursor} height={10} width={WIDTH} now={NOW} />)
}

describe('views render fixture data', () => {
  it('header: database, workers, throughput, interventions, sagas by status, tabs', () => {
    const out = draw(<Header header={header()} view="stuck" width={WIDTH} />).split('\n')
    expect(out[0]).toBe('sagactl monitor │ 3 workers │ 42/min │ 5 interventions │ schema sagactl │ postgres://ops:****@db.in…')
    expect(out[1]).toBe('pending 12 running 340 compensating 2 suspended 5 │ last hour: completed 1200 compensated 3 failed 1')
    expect(out[2]).toContain('1 Live    2 Stuck    3 Interventions    4 Definitions    5 Failure groups')
  })

  it('header on a replica: its lag, and whether replay is paused', () => {
    const lagging = draw(<Header header={header({ replica: { lagSeconds: 41.6, paused: true } })} view="live" width={140} />).split('\n')
    expect(lagging[0]).toBe('sagactl monitor │ 3 workers │ 42/min │ 5 interventions │ replica lag 42s (paused) │ schema sagactl │ postgres://ops:****@db.internal:5432/s…')
    expect(draw(<Header header={header({ replica: { lagSeconds: 0, paused: false } })} view="live" width={140} />)).toContain('│ replica lag 0s │')
  })

  it('live sagas: short ids, status, step, age and the error', () => {
    const out = table('live').split('\n')
    expect(out[0]).toMatch(/^ {2}ID +DEFINITION +STATUS +STEP +REV +AGE +ERROR \/ REASON/)
    expect(out[1]).toMatch(new RegExp(`^› ${suspended.id.slice(0, 13)} +order-checkout +suspended +process-payment +7 +5m HTTP 503 from payment`))
    expect(out[2]).toMatch(/^ {2}[0-9a-f]{8}-[0-9a-f]{4} +refund +running +reserve-inventory/)
  })

  it('stuck: with the reason', () => {
    expect(table('stuck')).toMatch(/refund +running +1m no progress for 12m in reserve-inventory \(attempt/)
  })

  it('interventions: saga, step and phase, age, reason', () => {
    expect(table('interventions')).toMatch(/order-checkout +process-payment \(comp\) +3m compensation of process-payment/)
  })

  it('definitions: version, active, the last 24 hours, success rate', () => {
    const out = table('definitions')
    expect(out).toMatch(/order-checkout +3 +352 +1200 +30 +2 +97\.4%/)
    expect(out).toMatch(/refund +1 +0 +0 +0 +0 +-/)
  })

  it('failure groups: count, where, normalised error', () => {
    expect(table('groups')).toMatch(/37 order-checkout +reserve-inventory +running +HTTP # for order #/)
  })

  it('an empty view says so, and says when it is still loading', () => {
    const cursor = { index: 0, offset: 0, key: null }
    expect(draw(<ViewTable view="stuck" rows={emptyRows()} loaded cursor={cursor} height={5} width={WIDTH} now={NOW} />)).toContain('nothing is stuck')
    expect(draw(<ViewTable view="stuck" rows={emptyRows()} loaded={false} cursor={cursor} height={5} width={WIDTH} now={NOW} />)).toContain('loading…')
  })

  it('detail: header, step timeline, intervention, last events', () => {
    const step = (over: Partial<StepRecord>): StepRecord => ({
      sagaId: suspended.id,
      index: 0,
      phase: 'action',
      name: 'validate-customer',
      status: 'succeeded',
      attempts: 1,
      rerun: 0,
      output: null,
      lastError: null,
      errorKind: null,
      startedAt: new Date(NOW - 10_000),
      finishedAt: new Date(NOW - 9_880),
      updatedAt: new Date(NOW),
      ...over,
    })
    const detail: SagaDetail = {
      saga: suspended,
      steps: [step({}), step({ index: 1, name: 'process-payment', status: 'failed', attempts: 3, lastError: 'HTTP 503 from payment', finishedAt: new Date(NOW - 5_000) })],
      events: [
        { id: 1, sagaId: suspended.id, at: new Date(NOW - 4000), type: 'step.failed', step: 'process-payment', phase: 'action', attempt: 3, data: { error: 'HTTP 503 from payment' } },
        { id: 2, sagaId: suspended.id, at: new Date(NOW - 3000), type: 'saga.suspended', step: null, phase: null, attempt: null, data: { reason: 'payment outcome unknown' } },
      ],
      intervention: intervention(suspended).intervention,
      now: new Date(NOW),
    }
    const out = draw(<DetailPane detail={{ id: suspended.id, data: detail, missing: false }} width={WIDTH} height={18} now={NOW} />)
    expect(out).toContain(`${suspended.id} order-checkout v1 suspended rev 7`)
    expect(out).toContain('step process-payment · created 5m ago · updated 1m ago')
    expect(out).toContain('last error: HTTP 503 from payment')
    expect(out).toMatch(/action +validate-customer +succeeded +1 +120ms/)
    expect(out).toMatch(/action +process-payment +failed +3 +5s HTTP 503 from payment/)
    expect(out).toContain('intervention open 3m · process-payment (comp) · compensation of process-payment failed 5 times')
    expect(out).toMatch(/\d\d:\d\d:\d\d step\.failed process-payment #3: HTTP 503 from payment/)
    expect(out).toMatch(/saga\.suspended: payment outcome unknown/)
    expect(out).not.toContain('forked from')
    const fork = { ...detail, saga: { ...suspended, forkedFrom: '01a2340d-ebe5-7000-8000-000000000001' } }
    expect(draw(<DetailPane detail={{ id: suspended.id, data: fork, missing: false }} width={WIDTH} height={18} now={NOW} />)).toContain('forked from: 01a2340d-ebe5-7000-8000-000000000001')
    expect(draw(<DetailPane detail={{ id: 'gone', data: null, missing: true }} width={WIDTH} height={5} now={NOW} />)).toContain('saga gone no longer exists')
  })

  it('a saga held back for a participant says so in its live row and its detail, not its last error', () => {
    const held = saga({ status: 'running', currentStep: 'process-payment', lastError: 'HTTP 503 from payment', waitingFor: 'payments' })
    const cursor = { index: 0, offset: 0, key: null }
    const live = draw(<ViewTable view="live" rows={{ ...rows, live: [held] }} loaded cursor={cursor} height={10} width={WIDTH} now={NOW} />)
    expect(live).toMatch(/process-payment .*waiting for participant payments/)
    expect(live).not.toContain('HTTP 503')
    const detail: SagaDetail = { saga: held, steps: [], events: [], intervention: null, now: new Date(NOW), waiting: 'waiting for a paused participant: payments' }
    const out = draw(<DetailPane detail={{ id: held.id, data: detail, missing: false }} width={WIDTH} height={18} now={NOW} />)
    expect(out).toContain('waiting: waiting for a paused participant: payments')
  })

  it('compensate dialog: the plan in order, and the reason field', () => {
    const target = { sagaId: suspended.id, revision: 7, definition: 'order-checkout', step: 'process-payment', status: 'suspended', interventionId: null }
    let d = openDialog('compensate', target)
    expect(draw(<ConfirmDialog dialog={d} width={WIDTH} height={18} />)).toContain('loading the compensation plan…')
    d = dialogReducer(d, {
      type: 'plan',
      plan: {
        state: 'loaded',
        value: {
          sagaId: suspended.id,
          status: 'suspended',
          allowed: true,
          refusal: null,
          steps: [
            { step: 'validate-customer', index: 0, order: null, compensate: false, why: 'no compensation' },
            { step: 'reserve-inventory', index: 1, order: 2, compensate: true, why: 'action succeeded' },
            { step: 'process-payment', index: 2, order: 1, compensate: true, why: 'outcome unknown (timeout)' },
          ],
        },
      },
    })
    d = dialogReducer(d, { type: 'edit', field: 'reason', value: textValue('customer cancelled') })
    const lines = draw(<ConfirmDialog dialog={d} width={WIDTH} height={18} />).split('\n')
    const text = lines.join('\n')
    expect(text).toContain(`saga ${suspended.id.slice(0, 13)} · order-checkout · rev 7`)
    expect(text).toContain('suspended · step process-payment')
    expect(text).toContain('Plan: undo 2 steps, in this order')
    const order = ['1. process-payment', '2. reserve-inventory', '-  validate-customer'].map((s) => lines.findIndex((l) => l.includes(s)))
    expect(order.every((i, k) => i > 0 && (k === 0 || i > order[k - 1]!))).toBe(true)
    expect(text).toMatch(/reason +customer cancelled/)
    expect(text).toContain('Enter confirm · Esc cancel')
  })

  it('help lists the keys; the status line shows hints, results and problems', () => {
    const help = draw(<HelpOverlay width={WIDTH} height={20} />)
    for (const k of ['1-6, Tab', '/', 'r ', 'R / C', 'p / u', 'q, Ctrl-C']) expect(help).toContain(k)
    expect(draw(<StatusLine status={null} problem={null} busy={null} width={WIDTH} />)).toContain('? help · q quit')
    expect(draw(<StatusLine status={{ kind: 'error', text: 'conflict: changed' }} problem={null} busy={null} width={WIDTH} />)).toBe('conflict: changed')
    expect(draw(<StatusLine status={{ kind: 'ok', text: 'retried' }} problem="db down" busy={null} width={WIDTH} />)).toBe('retried │ db down')
    expect(draw(<StatusLine status={null} problem="db down" busy={null} width={WIDTH} />)).toBe('db down')
    expect(draw(<StatusLine status={null} problem={null} busy="retrying 3/37…" width={WIDTH} />)).toBe('retrying 3/37…')
  })
})

describe('the whole console fits the terminal', () => {
  const many = Array.from({ length: 60 }, (_, i) => saga({ definition: `definition-with-a-long-name-${i}`, lastError: 'x'.repeat(200) }))
  async function open(size: { columns: number; rows: number }): Promise<Rendered> {
    const r = renderAt(<Monitor data={fakeData({ live: many })} listen={null} actions={fakeActions()} operator="op" />, size)
    mounted.push(r)
    await eventually(() => expect(r.frame()).toContain('defin'))
    return r
  }

  for (const size of [
    { columns: 80, rows: 24 },
    { columns: 132, rows: 40 },
  ]) {
    it(`${size.columns}x${size.rows}: no line wider than the screen, one line short of its height`, async () => {
      const r = await open(size)
      for (const view of ['1', '2', '3', '4', '5', '?']) {
        await r.press(view)
        const lines = r.frame().split('\n')
        expect(lines.length).toBe(size.rows - 1)
        for (const line of lines) expect(line.length).toBeLessThanOrEqual(size.columns)
        if (view === '?') await r.press('?')
      }
      await r.press('1')
      const lines = r.frame().split('\n')
      // Header 3, filter 1, table header 1, rows, status 1.
      expect(lines.filter((l) => /^[› ] [0-9a-f]{8}-[0-9a-f]{4} defin/.test(l))).toHaveLength(size.rows - 1 - 6)
      expect(lines.at(-1)).toContain('? help')
    })
  }
})

describe('what the operator came for is not cut, at 80 and 132 columns', () => {
  const declined = 'HTTP 500: {"error":"card_declined","message":"The card was declined by the issuer"}'
  const paying = saga({ status: 'compensating', definition: 'order-checkout', currentStep: 'process-payment', lastError: declined })
  const points = saga({ status: 'suspended', definition: 'order-checkout', currentStep: 'update-points', lastError: 'HTTP 503 from points' })
  const group = { key: 'g', definition: 'order-checkout', step: 'process-payment', error: declined, sample: declined, count: 3, sagas: [] }
  const fixtures = {
    live: [paying, points],
    interventions: [intervention(points)],
    groups: [
      { ...group, statuses: ['compensating' as const] },
      { ...group, key: 'h', step: 'update-points', statuses: ['compensating' as const, 'suspended' as const] },
    ],
  }

  for (const columns of [80, 132]) {
    it(`${columns} columns: every key of the hint, whole names, the error's words, the schema`, async () => {
      const r = renderAt(<Monitor data={fakeData(fixtures)} listen={null} actions={fakeActions()} operator="op" />, { columns, rows: 24 })
      mounted.push(r)
      // the whole screen, not its first frame: the selected row and the hint come with the data
      await eventually(() => expect(r.frame()).toMatch(/^› .*process-payment/m))
      const lines = r.frame().split('\n')
      expect(lines[0]).toContain('schema sagactl')
      const hint = lines.at(-1)!
      for (const key of ['? help', 'q quit', 'r retry', 'k skip', 'a abort', 'v resolve']) expect(hint).toContain(key)
      expect(hint).toMatch(/v resolve$/)
      const row = lines.find((l) => l.startsWith('› '))!
      expect(row).toMatch(/ order-checkout compensating process-payment /)
      expect(row).not.toContain('{"')
      expect(row).toContain(columns >= 132 ? 'HTTP 500 card_declined: The card was declined by the issuer' : 'HTTP 500 card_')

      await r.press('5')
      await eventually(() => expect(r.frame()).toMatch(/COUNT DEFINITION/))
      const groups = r.frame().split('\n')
      expect(groups.find((l) => l.includes('process-payment'))).toMatch(/order-checkout +process-payment +compensating +HTTP 500 card_/)
      if (columns >= 132) expect(groups.find((l) => l.includes('update-points'))).toContain('compensating,suspended')

      await r.press('3')
      await eventually(() => expect(r.frame()).toMatch(/SAGA .* OPEN REASON/))
      expect(r.frame()).toMatch(/order-checkout +process-payment \(comp\)/)
    })
  }
})

describe('participants view', () => {
  it('lists each participant with its state, load and why it is paused, and six tabs fit in 80 columns', () => {
    const participants: ParticipantSummary[] = [
      { name: 'payments', state: 'open', callsLastMinute: 9, errorRate: 1, p50Ms: 5, p95Ms: 10, inFlight: 0, sagasWaiting: 183, maxInFlight: null, rps: null, operatorRps: null, circuit: { failures: 5, within: 30_000, cooldown: 60_000 }, circuitState: 'open', openedAt: new Date(NOW), paused: null },
      { name: 'ledger', state: 'paused', callsLastMinute: 0, errorRate: null, p50Ms: null, p95Ms: null, inFlight: 0, sagasWaiting: 51, maxInFlight: null, rps: null, operatorRps: null, circuit: null, circuitState: 'closed', openedAt: null, paused: { reason: 'migration', by: 'alice', at: new Date(NOW) } },
    ]
    const cursor = { index: 0, offset: 0, key: null }
    const out = draw(<ViewTable view="participants" rows={{ ...rows, participants }} loaded cursor={cursor} height={10} width={WIDTH} now={NOW} />)
    expect(out).toMatch(/payments\s+open\s+9\s+100%/)
    expect(out).toMatch(/ledger\s+paused\s+0\s+-\s+0\s+51\s+migration \(alice\)/)
    const narrow = draw(<Header header={header()} view="participants" width={80} />).split('\n')
    expect(narrow[2]).toContain('6 Particip.')
    expect(narrow[2]!.length).toBeLessThanOrEqual(80)
  })
})
