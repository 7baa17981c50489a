import { fileURLToPath } from 'node:url'
import { applyDefinition } from '../../src/db/definitions.js'
import type { Database } from '../../src/db/types.js'
import { definitionChecksum, parseDefinition } from '../../src/engine/definition.js'

export const FIXTURE_STEPS = fileURLToPath(new URL('../fixtures/steps/', import.meta.url))

export interface RecordedCall {
  sagaId: string
  step: string
  phase: 'action' | 'compensation'
  attempt: number
  key: string
  results: Record<string, unknown>
}

/** Calls recorded by test/fixtures/steps/scripted.js in this process. */
export function recordedCalls(sagaId?: string): RecordedCall[] {
  const all = ((globalThis as { __sagaCalls?: RecordedCall[] }).__sagaCalls ??= [])
  return sagaId ? all.filter((c) => c.sagaId === sagaId) : all
}

export async function applyYaml(db: Database, yaml: string) {
  const parsed = parseDefinition(yaml, 'test.yaml')
  if (!parsed.definition) throw new Error(parsed.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'))
  const { definition } = await applyDefinition(db, { spec: parsed.definition, source: yaml, checksum: definitionChecksum(parsed.source), operator: 'test' })
  return definition
}

/** A definition of module steps scripted by the saga input (see scripted.js). */
export function scriptedDefinition(name: string, steps: Array<{ name: string; compensation?: boolean; onFailure?: 'suspend' }>, extra = ''): string {
  const lines = [`name: ${name}`, extra, 'defaults:', '  timeout: 2s', '  retry: { maxAttempts: 3, backoff: fixed, initialDelay: 20ms, jitter: false }', '  compensationRetry: { maxAttempts: 2, backoff: fixed, initialDelay: 20ms, jitter: false }', 'steps:']
  for (const s of steps) {
    lines.push(`  - name: ${s.name}`, '    action: { module: ./scripted.js, export: step }')
    if (s.compensation !== false) lines.push('    compensation: { module: ./scripted.js, export: step }')
    if (s.onFailure) lines.push(`    onFailure: ${s.onFailure}`)
  }
  return lines.filter((l) => l !== '').join('\n')
}

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, stepMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}
