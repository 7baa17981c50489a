// The module executor calls a function exported by a JS module, resolved against the
// worker's --defs directory so every host finds the same code. The function receives
// one object: the StepContext plus `idempotencyKey` and an AbortSignal that fires on
// timeout or shutdown. A timed-out call cannot be stopped, only abandoned, which is why
// the signal matters: well-behaved steps pass it on to their own I/O.
import { realpath } from 'node:fs/promises'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { ModuleCall } from '../definition.js'
import { formatDuration } from '../duration.js'
import { modulePathProblem } from '../module-path.js'
import { callSignal, errorText, idempotencyKey, type CallOutcome, type ExecOptions, type ModuleStepContext, type StepContext } from './types.js'

type Loaded = Record<string, unknown>
const cache = new Map<string, Promise<Loaded>>()
/**
 * Modules that passed the containment check and loaded, by --defs directory and path.
 * A loaded module is never loaded again (the cache above), so checking its path again on
 * every call (two realpath system calls, a fifth of a busy worker's CPU) could not change
 * what runs.
 */
const admitted = new Map<string, Loaded>()

function load(file: string): Promise<Loaded> {
  let p = cache.get(file)
  if (!p) {
    p = import(pathToFileURL(file).href) as Promise<Loaded>
    cache.set(file, p)
    // A failed import (file not deployed yet, syntax error) is retried on the next call.
    p.catch(() => cache.delete(file))
  }
  return p
}

export function resolveModulePath(modulePath: string, defsDir: string): string {
  return resolve(defsDir, modulePath)
}

/**
 * The file a module step may load, or an error: the path must pass `modulePathProblem`
 * and, once symlinks are followed, still be inside --defs (a link in --defs pointing out
 * of it is refused). Missing files are left to the import, which reports them.
 */
export async function containedModuleFile(modulePath: string, defsDir: string): Promise<{ file: string } | { refused: string }> {
  const problem = modulePathProblem(modulePath)
  if (problem) return { refused: `module ${modulePath} refused: it ${problem}` }
  const file = resolveModulePath(modulePath, defsDir)
  const [realDir, realFile] = await Promise.all([realpath(defsDir).catch(() => resolve(defsDir)), realpath(file).catch(() => null)])
  if (realFile !== null) {
    const rel = relative(realDir, realFile)
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      return { refused: `module ${modulePath} refused: it resolves to ${realFile}, outside the worker's --defs directory ${realDir}` }
    }
  }
  return { file }
}

/** Non-retryable by class, by name (a module bundling its own copy) or by flag. */
function isAbort(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false
  const e = err as { name?: unknown; retryable?: unknown }
  return e.name === 'SagaAbort' || e.retryable === false
}

function describe(err: unknown): string {
  const text = errorText(err)
  return err instanceof Error && err.name !== 'Error' && !text.startsWith(err.name) ? `${err.name}: ${text}` : text
}

export async function executeModule(call: ModuleCall, ctx: StepContext, opts: ExecOptions): Promise<CallOutcome> {
  const key = `${opts.defsDir}\0${call.module}`
  let loaded = admitted.get(key)
  if (!loaded) {
    const found = await admit(call.module, opts.defsDir)
    if ('outcome' in found) return found.outcome
    loaded = found.loaded
    admitted.set(key, loaded)
  }
  return callExport(loaded[call.export], call, ctx, opts)
}

async function admit(modulePath: string, defsDir: string): Promise<{ loaded: Loaded } | { outcome: CallOutcome }> {
  const contained = await containedModuleFile(modulePath, defsDir)
  // Business, not transient: retrying cannot make a refused path acceptable.
  if ('refused' in contained) return { outcome: { kind: 'business', error: contained.refused } }
  const { file } = contained
  try {
    return { loaded: await load(file) }
  } catch (err) {
    const text = (errorText(err).split('\n')[0] ?? '').trim()
    const notFound = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' || text.startsWith('Cannot find module')
    // Transient, not business: the file may not be deployed on this host yet.
    return {
      outcome: notFound
        ? { kind: 'transient', error: `module ${modulePath} not found at ${file} (modules resolve against the worker's --defs directory)` }
        : { kind: 'transient', error: `cannot load module ${modulePath} (${file}): ${text}` },
    }
  }
}

async function callExport(fn: unknown, call: ModuleCall, ctx: StepContext, opts: ExecOptions): Promise<CallOutcome> {
  if (typeof fn !== 'function') {
    return { kind: 'transient', error: `module ${call.module} has no exported function "${call.export}"` }
  }

  const signal = callSignal(opts.timeoutMs, opts.signal)
  const arg: ModuleStepContext = { ...ctx, idempotencyKey: idempotencyKey(ctx), signal }
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    const value = await Promise.race([Promise.resolve().then(() => (fn as (a: ModuleStepContext) => unknown)(arg)), aborted])
    return { kind: 'success', output: toJson(value) }
  } catch (err) {
    if (isAbort(err)) return { kind: 'business', error: errorText(err) }
    if (opts.signal?.aborted) return { kind: 'transient', error: 'aborted by the worker before the step returned (outcome unknown)' }
    if (signal.aborted) return { kind: 'transient', error: `timeout after ${formatDuration(opts.timeoutMs)}` }
    return { kind: 'transient', error: describe(err) }
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

// Outputs are stored as JSON and handed to later steps; convert now (Dates become
// strings) so a step sees the same value whether or not the saga was resumed.
function toJson(value: unknown): unknown {
  if (value === undefined) return null
  try {
    return JSON.parse(JSON.stringify(value) ?? 'null')
  } catch (err) {
    throw new Error(`step returned a value that is not JSON-serialisable: ${errorText(err)}`)
  }
}
