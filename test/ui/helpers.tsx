import { EventEmitter } from 'node:events'
import { stripVTControlCharacters } from 'node:util'
import { render as inkRender } from 'ink'
import type { ReactElement } from 'react'
import { vi } from 'vitest'
import type { ActionContext, CompensationPlan, OperatorActions } from '../../src/engine/actions.js'
import type { ForkPlan } from '../../src/engine/fork.js'
import type { MigratePlan } from '../../src/engine/migrate.js'
import type { ParticipantSummary } from '../../src/engine/participants/controls.js'
import type { Intervention, Saga, SagaStatus } from '../../src/engine/types.js'
import type { DefinitionStats, FailureGroup, HeaderData, InterventionItem, MonitorData, SagaDetail, StuckSaga } from '../../src/ui/data.js'

/** Key sequences as a terminal sends them. */
export const KEY = {
  enter: '\r',
  escape: '\u001B',
  tab: '\t',
  shiftTab: '\u001B[Z',
  up: '\u001B[A',
  down: '\u001B[B',
  left: '\u001B[D',
  right: '\u001B[C',
  pageUp: '\u001B[5~',
  pageDown: '\u001B[6~',
  home: '\u001B[H',
  end: '\u001B[F',
  backspace: '\u007F',
  ctrlC: '\u0003',
}

/** ink-testing-library's stdout, with the terminal size a test asks for. */
class SizedStdout extends EventEmitter {
  frames: string[] = []
  isTTY = true
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super()
  }
  write = (frame: string): boolean => {
    this.frames.push(frame)
    return true
  }
}

class Stdin extends EventEmitter {
  isTTY = true
  private data: string | null = null
  write(data: string): void {
    this.data = data
    this.emit('readable')
    this.emit('data', data)
  }
  read = (): string | null => {
    const d = this.data
    this.data = null
    return d
  }
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

export interface Rendered {
  frame(): string
  press(...keys: string[]): Promise<void>
  type(text: string): Promise<void>
  unmount(): void
  waitUntilExit(): Promise<unknown>
  stdout: SizedStdout
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Waits until Ink has written no new frame for a while: a key's effect reaches the
 * frame after React renders and Ink lays it out, which on a busy machine takes tens of ms.
 */
async function quiet(stdout: SizedStdout, quietMs = 30, maxMs = 2000): Promise<void> {
  const start = Date.now()
  let count = stdout.frames.length
  let since = Date.now()
  while (Date.now() - start < maxMs) {
    await sleep(5)
    if (stdout.frames.length !== count) {
      count = stdout.frames.length
      since = Date.now()
    } else if (Date.now() - since >= quietMs) return
  }
}

/** Renders like ink-testing-library (debug mode: every frame written whole), at a fixed size. */
export function renderAt(tree: ReactElement, size: { columns: number; rows: number } = { columns: 80, rows: 24 }): Rendered {
  const stdout = new SizedStdout(size.columns, size.rows)
  const stdin = new Stdin()
  const instance = inkRender(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: new SizedStdout(size.columns, size.rows) as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  })
  return {
    stdout,
    frame: () => stripVTControlCharacters(stdout.frames.at(-1) ?? ''),
    async press(...keys) {
      for (const k of keys) {
        stdin.write(k)
        // Also lets a lone Esc through: Ink holds it for a tick in case it starts a sequence.
        await quiet(stdout)
      }
    },
    async type(text) {
      for (const ch of text) {
        stdin.write(ch)
        await sleep(2)
      }
      await quiet(stdout)
    },
    unmount: () => instance.unmount(),
    waitUntilExit: () => instance.waitUntilExit(),
  }
}

export const strip = (s: string | undefined): string => stripVTControlCharacters(s ?? '')

/** Waits for the frame to satisfy the assertion (data loads and renders asynchronously). */
export async function eventually(fn: () => void, timeout = 3000): Promise<void> {
  await vi.waitFor(fn, { timeout, interval: 10 })
}

const T0 = Date.now()
const at = (agoMs: number): Date => new Date(T0 - agoMs)
let seq = 0

export function saga(over: Partial<Saga> = {}): Saga {
  seq++
  const hex = seq.toString(16).padStart(8, '0')
  return {
    id: `${hex}-0000-7000-8000-${hex.padStart(12, '0')}`,
    definition: 'order-checkout',
    version: 1,
    status: 'running',
    currentStep: 'reserve-inventory',
    stepIndex: 1,
    input: {},
    key: null,
    tags: {},
    forkedFrom: null,
    revision: 3,
    dueAt: null,
    leaseOwner: null,
    deadlineAt: null,
    compensationPlan: null,
    lastError: null,
    reason: null,
    createdAt: at(5 * 60_000),
    updatedAt: at(60_000),
    finishedAt: null,
    waitingFor: null,
    ...over,
  }
}

export function header(over: Partial<HeaderData> = {}): HeaderData {
  return {
    displayUrl: 'postgres://ops:****@db.internal:5432/sagas',
    schema: 'sagactl',
    workers: 3,
    active: { pending: 12, running: 340, compensating: 2, suspended: 5 },
    lastHour: { completed: 1200, compensated: 3, failed: 1 },
    finishedLastMinute: 42,
    openInterventions: 5,
    now: new Date(),
    ...over,
  }
}

export function intervention(s: Saga, over: Partial<Intervention> = {}): InterventionItem {
  return {
    intervention: {
      id: `i${s.id.slice(1)}`,
      sagaId: s.id,
      status: 'open',
      reason: 'compensation of process-payment failed 5 times',
      step: 'process-payment',
      phase: 'compensation',
      createdAt: at(3 * 60_000),
      resolvedAt: null,
      resolvedBy: null,
      action: null,
      note: null,
      ...over,
    },
    definition: s.definition,
    sagaStatus: s.status,
    sagaRevision: s.revision,
    now: new Date(),
  }
}

export interface Fixtures {
  header: HeaderData
  live: Saga[]
  stuck: StuckSaga[]
  interventions: InterventionItem[]
  definitions: DefinitionStats[]
  groups: FailureGroup[]
  details: Record<string, SagaDetail>
  participants: ParticipantSummary[]
}

/** MonitorData over in-memory fixtures; records the queries the console makes. */
export function fakeData(f: Partial<Fixtures> = {}): MonitorData & { calls: Array<{ fn: string; arg: unknown }>; fixtures: Fixtures } {
  const fixtures: Fixtures = { header: header(), live: [], stuck: [], interventions: [], definitions: [], groups: [], details: {}, participants: [], ...f }
  const calls: Array<{ fn: string; arg: unknown }> = []
  const record = <T,>(fn: string, arg: unknown, value: T): Promise<T> => {
    calls.push({ fn, arg })
    return Promise.resolve(value)
  }
  const matches = (s: Saga, status: SagaStatus | readonly SagaStatus[] | undefined): boolean =>
    status === undefined || (typeof status === 'string' ? s.status === status : status.includes(s.status))
  return {
    calls,
    fixtures,
    header: () => record('header', null, fixtures.header),
    liveSagas: (q) =>
      record(
        'liveSagas',
        q,
        fixtures.live
          .filter((s) => matches(s, q.status) && (!q.definition || s.definition === q.definition) && (!q.text || `${s.id} ${s.definition} ${s.currentStep} ${s.lastError}`.includes(q.text)))
          .slice(0, q.limit),
      ),
    stuck: (q) => record('stuck', q, fixtures.stuck.slice(0, q.limit)),
    interventions: (q) => record('interventions', q, fixtures.interventions.slice(0, q.limit)),
    definitions: () => record('definitions', null, fixtures.definitions),
    detail: (id) => record('detail', id, fixtures.details[id] ?? null),
    failureGroups: (q) => record('failureGroups', q, fixtures.groups.slice(0, q.limit)),
    sagasByIds: (ids) => record('sagasByIds', ids, fixtures.live.filter((s) => ids.includes(s.id))),
    participants: () => record('participants', null, fixtures.participants),
  }
}

export type Call = { method: string; id: string; ctx: Record<string, unknown> }

/** OperatorActions that records each call; `fail` makes the next calls throw. */
export function fakeActions(
  opts: {
    fail?: (method: string, id: string) => Error | null
    plan?: CompensationPlan
    forkPlan?: (id: string, opts: Record<string, unknown>) => ForkPlan
    migratePlan?: (id: string, toVersion: unknown) => MigratePlan
  } = {},
): OperatorActions & { calls: Call[] } {
  const calls: Call[] = []
  // One recorder for every action: the casts below only widen what each method accepts.
  const act = (method: string): any => async (id: string, ctx: ActionContext & Record<string, unknown>) => {
    calls.push({ method, id, ctx })
    const err = opts.fail?.(method, id)
    if (err) throw err
    return saga({ id, status: method === 'abort' ? 'failed' : method === 'compensate' ? 'compensating' : 'running', revision: (ctx.expectedRevision ?? 0) + 1 })
  }
  return {
    calls,
    retry: act('retry'),
    compensate: act('compensate'),
    skip: act('skip'),
    abort: act('abort'),
    resolveIntervention: act('resolveIntervention'),
    pauseParticipant: act('pauseParticipant'),
    resumeParticipant: act('resumeParticipant'),
    async fork(id, ctx) {
      calls.push({ method: 'fork', id, ctx: { ...ctx } })
      const err = opts.fail?.('fork', id)
      if (err) throw err
      return saga({ status: 'running', forkedFrom: id, version: typeof ctx.version === 'number' ? ctx.version : ctx.version === 'latest' ? 2 : 1 })
    },
    async migrate(id, ctx) {
      calls.push({ method: 'migrate', id, ctx: { ...ctx } })
      const err = opts.fail?.('migrate', id)
      if (err) throw err
      return saga({ id, status: 'suspended', version: typeof ctx.toVersion === 'number' ? ctx.toVersion : 2, revision: (ctx.expectedRevision ?? 0) + 1 })
    },
    async forkPlan(id, o) {
      calls.push({ method: 'forkPlan', id, ctx: { ...o } })
      if (!opts.forkPlan) throw new Error('no fork plan in this test')
      return opts.forkPlan(id, { ...o })
    },
    async migratePlan(id, toVersion) {
      calls.push({ method: 'migratePlan', id, ctx: { toVersion } })
      if (!opts.migratePlan) throw new Error('no migrate plan in this test')
      return opts.migratePlan(id, toVersion)
    },
    async compensationPlan(id) {
      calls.push({ method: 'compensationPlan', id, ctx: {} })
      return opts.plan ?? { sagaId: id, status: 'running', allowed: true, refusal: null, steps: [] }
    },
  }
}
