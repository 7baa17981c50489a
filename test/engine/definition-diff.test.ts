import { describe, expect, it } from 'vitest'
import { parseDefinition, type SagaDefinition } from '../../src/engine/definition.js'
import { diffDefinitions } from '../../src/engine/definition-diff.js'

function spec(yaml: string): SagaDefinition {
  const parsed = parseDefinition(yaml, 'test.yaml')
  if (!parsed.definition) throw new Error(JSON.stringify(parsed.problems))
  return parsed.definition
}

const V1 = `name: checkout
timeout: 30m
steps:
  - name: reserve
    action: { http: { url: "http://inventory/reserve" } }
    compensation: { http: { url: "http://inventory/release" } }
  - name: charge
    action: { http: { url: "http://payments/charge" } }
    retry: { maxAttempts: 3 }
  - name: legacy-notify
    action: { http: { url: "http://mail/send" } }
  - name: ship
    action: { http: { url: "http://shipping/ship" } }
`

const V2 = `name: checkout
timeout: 1h
steps:
  - name: charge
    action: { http: { url: "http://payments.internal/charge" } }
    retry: { maxAttempts: 5 }
    timeout: 20s
  - name: reserve
    action: { http: { url: "http://inventory/reserve" } }
    compensation: { http: { url: "http://inventory/release" } }
  - name: ship
    action: { http: { url: "http://shipping/ship" } }
    onFailure: suspend
  - name: notify
    action: { http: { url: "http://notify/send" } }
`

describe('def diff', () => {
  it('names steps added, removed, moved and each changed field with its old and new value', () => {
    const a = spec(V1)
    const diff = diffDefinitions({ version: 1, spec: a }, { version: 2, spec: spec(V2) })
    expect(diff).toMatchObject({ name: 'checkout', from: 1, to: 2, same: false, changes: [{ field: 'timeout', from: 1_800_000, to: 3_600_000 }] })
    expect(diff.steps.map((s) => [s.step, s.change, s.fromIndex, s.toIndex, s.moved])).toEqual([
      ['charge', 'changed', 1, 0, true],
      ['reserve', 'changed', 0, 1, true],
      ['ship', 'changed', 3, 2, false],
      ['notify', 'added', null, 3, false],
      ['legacy-notify', 'removed', 2, null, false],
    ])
    expect(diff.steps[0]!.fields).toEqual([
      { field: 'action.http.url', from: 'http://payments/charge', to: 'http://payments.internal/charge' },
      { field: 'retry.maxAttempts', from: 3, to: 5 },
      { field: 'timeout', from: a.steps[1]!.timeout, to: 20_000 },
    ])
    expect(diff.steps[1]!.fields).toEqual([])
    expect(diff.steps[2]!.fields).toEqual([{ field: 'onFailure', from: 'compensate', to: 'suspend' }])
  })

  it('a field only one version has is shown without the other side, and equal versions are the same', () => {
    const withComp = V1.replace('    retry: { maxAttempts: 3 }\n', '    retry: { maxAttempts: 3 }\n    compensation: { http: { url: "http://payments/refund" } }\n')
    const diff = diffDefinitions({ version: 1, spec: spec(V1) }, { version: 2, spec: spec(withComp) })
    expect(diff.steps).toHaveLength(1)
    expect(diff.steps[0]!.fields).toContainEqual({ field: 'compensation.http.url', to: 'http://payments/refund' })
    expect(diff.steps[0]!.fields.every((f) => !('from' in f))).toBe(true)
    expect(diffDefinitions({ version: 1, spec: spec(V1) }, { version: 1, spec: spec(V1) })).toMatchObject({ same: true, changes: [], steps: [] })
  })
})
