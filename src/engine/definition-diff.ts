import { isDeepStrictEqual } from 'node:util'
import type { SagaDefinition, StepDef } from './definition.js'

/**
 * `def diff`: what changed between two stored versions of a definition, field by field,
 * on the normalised specs (defaults filled in, durations in milliseconds), so a default
 * that changed meaning shows even when the files read the same.
 */

export interface FieldChange {
  /** A dotted path: `timeout`, `retry.maxAttempts`, `action.http.url`. */
  field: string
  /** Absent (undefined in JS, missing in JSON) when the field is new or gone. */
  from?: unknown
  to?: unknown
}

export interface StepChange {
  step: string
  change: 'added' | 'removed' | 'changed'
  /** Position in each version, 0-based; null where the step does not exist. */
  fromIndex: number | null
  toIndex: number | null
  /** True when the step is in both versions at another position among the steps both have. */
  moved: boolean
  fields: FieldChange[]
}

export interface DefinitionDiff {
  name: string
  from: number
  to: number
  same: boolean
  /** Changes of the definition itself: timeout, description, compensationOrder, participants. */
  changes: FieldChange[]
  /** Steps added or changed, in the order of the newer version, then the steps removed. */
  steps: StepChange[]
}

type Json = Record<string, unknown>

/** Leaf values by dotted path; arrays are one value (an order is what they say). */
function leaves(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Json)) leaves(v, prefix ? `${prefix}.${k}` : k, out)
  } else if (value !== undefined) out.set(prefix, value)
  return out
}

export function fieldChanges(a: unknown, b: unknown): FieldChange[] {
  const before = leaves(a)
  const after = leaves(b)
  // By name: stored specs are jsonb, whose key order is its own.
  const fields = [...new Set([...before.keys(), ...after.keys()])].sort()
  const changes: FieldChange[] = []
  for (const field of fields) {
    const from = before.get(field)
    const to = after.get(field)
    if (isDeepStrictEqual(from, to)) continue
    changes.push({ field, ...(before.has(field) ? { from } : {}), ...(after.has(field) ? { to } : {}) })
  }
  return changes
}

export function diffDefinitions(a: { version: number; spec: SagaDefinition }, b: { version: number; spec: SagaDefinition }): DefinitionDiff {
  const { steps: stepsA, ...restA } = a.spec
  const { steps: stepsB, ...restB } = b.spec
  const name = a.spec.name
  const changes = fieldChanges(restA, restB)
  const byName = (steps: StepDef[]) => new Map(steps.map((s, i) => [s.name, { s, i }]))
  const inA = byName(stepsA)
  const inB = byName(stepsB)
  // Moved: the order among the steps both versions have changed.
  const commonA = stepsA.filter((s) => inB.has(s.name)).map((s) => s.name)
  const commonB = stepsB.filter((s) => inA.has(s.name)).map((s) => s.name)
  const steps: StepChange[] = []
  for (const [j, s] of stepsB.entries()) {
    const old = inA.get(s.name)
    if (!old) {
      steps.push({ step: s.name, change: 'added', fromIndex: null, toIndex: j, moved: false, fields: [] })
      continue
    }
    const fields = fieldChanges(old.s, s)
    const moved = commonA.indexOf(s.name) !== commonB.indexOf(s.name)
    if (fields.length > 0 || moved) steps.push({ step: s.name, change: 'changed', fromIndex: old.i, toIndex: j, moved, fields })
  }
  for (const [i, s] of stepsA.entries()) {
    if (!inB.has(s.name)) steps.push({ step: s.name, change: 'removed', fromIndex: i, toIndex: null, moved: false, fields: [] })
  }
  return { name, from: a.version, to: b.version, same: changes.length === 0 && steps.length === 0, changes, steps }
}
