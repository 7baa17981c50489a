import type { ActionContext, OperatorActions } from '../../engine/actions.js'
import type { Saga } from '../../engine/types.js'
import { conflictKind } from '../../errors.js'
import { repairInputs, versionOf, type DialogState } from '../components/dialog/dialog-state.js'
import { shortId } from '../format.js'
import type { StatusMessage } from './state.js'

/** `conflict: …` for a conflict (someone else changed the saga, or its state forbids it), the message otherwise. */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  const kind = conflictKind(err)
  if (kind === 'changed') return `changed meanwhile: ${text}`
  if (kind === 'state') return `refused: ${text}`
  return `error: ${text}`
}

const PAST: Record<string, string> = {
  retry: 'retried',
  compensate: 'compensating',
  skip: 'skipped a step of',
  abort: 'aborted',
  resolve: 'resolved the intervention of',
  migrate: 'moved',
}

/** Runs the confirmed single-saga action through the same engine calls as the CLI. */
export async function runSagaAction(actions: OperatorActions, operator: string, d: DialogState, onDone?: (saga: Saga) => void): Promise<StatusMessage> {
  const t = d.target
  if (!t) return { kind: 'error', text: 'no saga selected' }
  const reason = d.reason.value.trim()
  const ctx: ActionContext = { operator, ...(reason ? { reason } : {}), ...(t.revision === null ? {} : { expectedRevision: t.revision }) }
  try {
    let saga: Saga
    switch (d.kind) {
      case 'retry':
        saga = await actions.retry(t.sagaId, ctx)
        break
      case 'compensate':
        saga = await actions.compensate(t.sagaId, ctx)
        break
      case 'skip':
        saga = await actions.skip(t.sagaId, { ...ctx, step: d.step.value.trim(), reason })
        break
      case 'abort':
        saga = await actions.abort(t.sagaId, { ...ctx, reason })
        break
      case 'fork': {
        const { step, version } = repairInputs(d)
        const v = versionOf(version)
        const fork = await actions.fork(t.sagaId, { ...ctx, reason, ...(step ? { fromStep: step } : {}), ...(v === undefined ? {} : { version: v }) })
        onDone?.(fork)
        return { kind: 'ok', text: `forked saga ${shortId(t.sagaId)} as ${shortId(fork.id)} (${fork.definition}@${fork.version}): now ${fork.status}` }
      }
      case 'migrate':
        saga = await actions.migrate(t.sagaId, { ...ctx, reason, toVersion: versionOf(repairInputs(d).version) ?? 'latest' })
        break
      case 'resolve': {
        const iv = d.intervention?.state === 'loaded' ? d.intervention.value : null
        if (!iv) return { kind: 'error', text: 'this saga has no open intervention' }
        saga = await actions.resolveIntervention(iv.id, { ...ctx, reason, action: d.action, note: reason })
        break
      }
      default:
        return { kind: 'error', text: `${d.kind} acts on a group` }
    }
    onDone?.(saga)
    const how = d.kind === 'resolve' ? ` with ${d.action}` : d.kind === 'migrate' ? ` to version ${saga.version}` : ''
    return { kind: 'ok', text: `${PAST[d.kind]} saga ${shortId(saga.id)}${how}: now ${saga.status}` }
  } catch (err) {
    return { kind: 'error', text: describeError(err) }
  }
}

/** Pauses or resumes the selected participant through the engine, as `participant pause|resume` does. */
export async function runParticipantAction(actions: OperatorActions, operator: string, d: DialogState): Promise<StatusMessage> {
  const name = d.participant
  const reason = d.reason.value.trim()
  if (!name) return { kind: 'error', text: 'no participant selected' }
  const run = d.kind === 'pause' ? actions.pauseParticipant : actions.resumeParticipant
  if (!run) return { kind: 'error', text: 'participant controls are not available here' }
  try {
    await run.call(actions, name, { operator, ...(reason ? { reason } : {}) } as { operator: string; reason: string })
    return { kind: 'ok', text: d.kind === 'pause' ? `paused ${name}: no new calls` : `resumed ${name}` }
  } catch (err) {
    return { kind: 'error', text: describeError(err) }
  }
}

export interface GroupTally {
  succeeded: number
  /** The saga's state does not allow the action (known before acting, or found by the engine). */
  refused: number
  /** The saga changed after the group was read. */
  changed: number
  failed: number
  /** The first error that was not a conflict: what the operator should look at. */
  firstError: string | null
}

/**
 * Acts on each saga of a failure group in turn, each checked against the revision that
 * was on screen: a saga that changed meanwhile is a conflict, counted, not retried blindly.
 */
export async function runGroupAction(
  actions: OperatorActions,
  operator: string,
  d: DialogState,
  onProgress: (done: number, total: number) => void,
  onDone?: (saga: Saga) => void,
): Promise<{ status: StatusMessage; tally: GroupTally }> {
  const sagas = d.group?.sagas ?? []
  const reason = d.reason.value.trim()
  const tally: GroupTally = { succeeded: 0, refused: 0, changed: 0, failed: 0, firstError: null }
  const refusedUpFront = new Set(d.refusedInGroup.map((r) => r.id))
  for (const [i, s] of sagas.entries()) {
    const ctx: ActionContext = { operator, expectedRevision: s.revision, ...(reason ? { reason } : {}) }
    try {
      if (refusedUpFront.has(s.id)) tally.refused++
      else {
        onDone?.(d.kind === 'group-compensate' ? await actions.compensate(s.id, ctx) : await actions.retry(s.id, ctx))
        tally.succeeded++
      }
    } catch (err) {
      const kind = conflictKind(err)
      if (kind) tally[kind === 'state' ? 'refused' : 'changed']++
      else {
        tally.failed++
        tally.firstError ??= `${shortId(s.id)}: ${err instanceof Error ? err.message : String(err)}`
      }
    }
    onProgress(i + 1, sagas.length)
  }
  const verb = d.kind === 'group-compensate' ? 'compensate' : 'retry'
  let text = `${verb}: ${tally.succeeded} succeeded, ${tally.refused} refused, ${tally.changed} changed, ${tally.failed} failed`
  if (tally.firstError) text += ` (first failure ${tally.firstError})`
  return { status: { kind: tally.failed + tally.refused + tally.changed > 0 ? 'error' : 'ok', text }, tally }
}
