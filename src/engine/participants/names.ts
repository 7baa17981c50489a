import { isHttpCall } from '../call-kind.js'
import type { Call, CircuitPolicy, ParticipantLimits, SagaDefinition, StepDef } from '../definition.js'
import { resolveEnvRefs } from '../env-ref.js'
import type { Phase } from '../types.js'

/** A call's participant and the limits its definition declares for it. */
export interface ResolvedParticipant {
  name: string
  maxInFlight: number | null
  rps: number | null
  circuit: CircuitPolicy | null
}

/**
 * The default name of what a call reaches: an http call's origin written out in full
 * (`scheme://host:port`, the port even when it is the scheme's default, so one service
 * has one name), a module call's module path as written in the definition.
 */
export function defaultParticipantName(call: Call, env: NodeJS.ProcessEnv = process.env): string {
  if (!isHttpCall(call)) return call.module
  let text = call.http.url
  try {
    text = resolveEnvRefs(text, env)
  } catch {
    // Unresolvable here: name it by the template, which holds no value.
  }
  try {
    const u = new URL(text)
    const port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '')
    return `${u.protocol}//${u.hostname}${port ? `:${port}` : ''}`
  } catch {
    return call.http.url
  }
}

/** The step's own limits win field by field over the definition's `participants` entry. */
export function mergeLimits(...layers: Array<ParticipantLimits | undefined>): ParticipantLimits {
  const out: ParticipantLimits = {}
  for (const l of layers) {
    if (!l) continue
    if (l.maxInFlight !== undefined) out.maxInFlight = l.maxInFlight
    if (l.rps !== undefined) out.rps = l.rps
    if (l.circuit !== undefined) out.circuit = l.circuit
  }
  return out
}

// Definitions are cached for a process' lifetime and never mutated, so a step resolves
// once: the gate in front of every call costs no URL parsing on the hot path.
const resolved = new WeakMap<StepDef, Partial<Record<Phase, ResolvedParticipant>>>()

export function participantFor(def: SagaDefinition, step: StepDef, phase: Phase, env?: NodeJS.ProcessEnv): ResolvedParticipant {
  let entry = resolved.get(step)
  if (!entry) resolved.set(step, (entry = {}))
  return (entry[phase] ??= resolve(def, step, phase, env))
}

function resolve(def: SagaDefinition, step: StepDef, phase: Phase, env?: NodeJS.ProcessEnv): ResolvedParticipant {
  const call = phase === 'action' ? step.action : step.compensation!
  const name = step.participant ?? defaultParticipantName(call, env)
  const limits = mergeLimits(def.participants?.[name], step.limits)
  return { name, maxInFlight: limits.maxInFlight ?? null, rps: limits.rps ?? null, circuit: limits.circuit ?? null }
}

export const hasControls = (p: ResolvedParticipant): boolean => p.maxInFlight !== null || p.rps !== null || p.circuit !== null
