import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { ModuleCall } from '../../src/engine/definition.js'
import { executeCall, resolveModulePath, SagaAbort, type StepContext } from '../../src/engine/executors/index.js'

const defsDir = resolve(import.meta.dirname, '../fixtures')
const opts = { timeoutMs: 2000, defsDir }
const ctx: StepContext = {
  sagaId: '01900000-0000-7000-8000-0000000000aa',
  step: 'send-notification',
  phase: 'action',
  attempt: 2,
  input: { email: 'a@example.com' },
  results: { 'process-payment': { paymentId: 'p-9' } },
}
const mod = (module: string, exp = 'default'): ModuleCall => ({ module, export: exp })

describe('module executor: success', () => {
  it('calls the export with the step context, idempotency key and signal', async () => {
    expect(await executeCall(mod('./steps/success.js', 'reserve'), ctx, opts)).toEqual({
      kind: 'success',
      output: {
        ...ctx,
        idempotencyKey: '01900000-0000-7000-8000-0000000000aa:send-notification:action',
        hasSignal: true,
      },
    })
  })

  it('resolves relative paths against defsDir', async () => {
    expect(resolveModulePath('./steps/x.js', '/srv/defs')).toBe('/srv/defs/steps/x.js')
    expect(await executeCall(mod('steps/success.js', 'sync'), ctx, opts)).toEqual({ kind: 'success', output: 42 })
  })

  it('maps undefined to null and outputs to plain JSON', async () => {
    expect(await executeCall(mod('./steps/success.js'), ctx, opts)).toEqual({ kind: 'success', output: null })
    expect(await executeCall(mod('./steps/success.js', 'withDate'), ctx, opts)).toEqual({ kind: 'success', output: { at: '1970-01-01T00:00:00.000Z' } })
  })

  it('a value that cannot be stored as JSON is transient', async () => {
    const out = await executeCall(mod('./steps/success.js', 'bigint'), ctx, opts)
    expect(out.kind).toBe('transient')
    expect((out as { error: string }).error).toMatch(/^step returned a value that is not JSON-serialisable/)
  })
})

describe('module executor: failures', () => {
  it('SagaAbort is a business failure', async () => {
    expect(new SagaAbort('x').retryable).toBe(false)
    expect(await executeCall(mod('./steps/abort.js', 'charge'), ctx, opts)).toEqual({ kind: 'business', error: 'card declined' })
  })

  it('an error named SagaAbort, or marked retryable: false, is a business failure without importing sagactl', async () => {
    expect(await executeCall(mod('./steps/named-abort.js', 'byName'), ctx, opts)).toEqual({ kind: 'business', error: 'out of stock' })
    expect(await executeCall(mod('./steps/named-abort.js', 'byFlag'), ctx, opts)).toEqual({ kind: 'business', error: 'address rejected' })
  })

  it('a step importing SagaAbort from the sagactl package fails as a business failure', async () => {
    expect(await executeCall(mod('./steps/package-abort.js', 'refuse'), ctx, opts)).toEqual({ kind: 'business', error: 'card declined' })
  })

  it('any other throw, sync or async, is transient', async () => {
    expect(await executeCall(mod('./steps/throws.js', 'rejects'), ctx, opts)).toEqual({ kind: 'transient', error: 'inventory service unavailable' })
    expect(await executeCall(mod('./steps/throws.js', 'throwsSync'), ctx, opts)).toEqual({
      kind: 'transient',
      error: 'TypeError: Cannot read properties of undefined (reading "id")',
    })
    expect(await executeCall(mod('./steps/throws.js', 'throwsString'), ctx, opts)).toEqual({ kind: 'transient', error: 'plain string' })
  })

  it('a slow step times out as transient and its signal fires', async () => {
    const t0 = Date.now()
    expect(await executeCall(mod('./steps/slow.js', 'slow'), ctx, { ...opts, timeoutMs: 200 })).toEqual({ kind: 'transient', error: 'timeout after 200ms' })
    expect(Date.now() - t0).toBeLessThan(1500)
    // the URL the executor imported, so this is the same module instance
    const slow = (await import(pathToFileURL(resolve(defsDir, 'steps/slow.js')).href)) as { sawAbort: boolean }
    expect(slow.sawAbort).toBe(true)
  })

  it('the worker aborting is transient and says so', async () => {
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    expect(await executeCall(mod('./steps/slow.js', 'slow'), ctx, { ...opts, signal: ac.signal })).toEqual({
      kind: 'transient',
      error: 'aborted by the worker before the step returned (outcome unknown)',
    })
  })

  it('a missing module or export is transient with a clear message', async () => {
    expect(await executeCall(mod('./steps/nope.js', 'run'), ctx, opts)).toEqual({
      kind: 'transient',
      error: `module ./steps/nope.js not found at ${defsDir}/steps/nope.js (modules resolve against the worker's --defs directory)`,
    })
    expect(await executeCall(mod('./steps/success.js', 'nothere'), ctx, opts)).toEqual({
      kind: 'transient',
      error: 'module ./steps/success.js has no exported function "nothere"',
    })
    expect(await executeCall(mod('./steps/success.js', 'notAFunction'), ctx, opts)).toEqual({
      kind: 'transient',
      error: 'module ./steps/success.js has no exported function "notAFunction"',
    })
  })
})
