import { describe, expect, it } from 'vitest'
import { parseDefinition, type SagaDefinition } from '../../src/engine/definition.js'
import { MAX_RETRY_DELAY_MS } from '../../src/engine/limits.js'
import { afterCall, type SagaView } from '../../src/engine/planner.js'

const problemsOf = (text: string) => parseDefinition(text, 'saga.yaml').problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message}`)

const oneStep = (step: string, top = '') =>
  ['name: x', top, 'steps:', '  - name: a', '    action: { http: { url: "http://127.0.0.1:1/a" } }', step].filter(Boolean).join('\n')

describe('definition limits: every duration is bounded', () => {
  it('a step timeout over 24h is refused at its position (30d would overflow Node timers)', () => {
    expect(problemsOf(oneStep('    timeout: 30d'))).toEqual(['saga.yaml:5:14 steps[0].timeout: must be at most 24h'])
    expect(problemsOf(oneStep('    timeout: 50d'))).toEqual(['saga.yaml:5:14 steps[0].timeout: must be at most 24h'])
    expect(problemsOf(oneStep('    timeout: 24h'))).toEqual([])
  })

  it('a saga timeout over 365 days is refused, 1e300 included', () => {
    expect(problemsOf(oneStep('', 'timeout: 1e300'))).toEqual(['saga.yaml:2:10 timeout: must be at most 365d'])
    expect(problemsOf(oneStep('', 'timeout: 366d'))).toEqual(['saga.yaml:2:10 timeout: must be at most 365d'])
    expect(problemsOf(oneStep('', 'timeout: 30d'))).toEqual([])
  })

  it('retry delays over 7 days are refused, in a step and in defaults', () => {
    expect(problemsOf(oneStep('    retry: { initialDelay: 1e20 }'))).toEqual(['saga.yaml:5:28 steps[0].retry.initialDelay: must be at most 7d'])
    expect(problemsOf(oneStep('', 'defaults: { retry: { maxDelay: 8d } }'))).toEqual(['saga.yaml:2:32 defaults.retry.maxDelay: must be at most 7d'])
  })
})

describe('definition limits: only http(s) URLs', () => {
  it.each(['file:///etc/passwd', 'ftp://host/x', 'javascript:alert(1)', 'not a url'])('refuses %s at its position', (url) => {
    const problems = problemsOf(['name: x', 'steps:', '  - name: a', `    action: { http: { url: "${url}" } }`].join('\n'))
    expect(problems).toEqual([`saga.yaml:4:28 steps[0].action.http.url: must be an http:// or https:// URL`])
  })

  it('accepts http, https and a URL whose start is a reference resolved at call time', () => {
    for (const url of ['http://127.0.0.1:7001/x', 'HTTPS://example.com/y', '${env:PAYMENT_URL}/charge']) {
      expect(problemsOf(['name: x', 'steps:', '  - name: a', `    action: { http: { url: "${url}" } }`].join('\n'))).toEqual([])
    }
  })
})

describe('retry waits are clamped, whatever a stored definition or a participant says', () => {
  const def = parseDefinition(oneStep(''), 'x').definition as SagaDefinition
  const step = { ...def.steps[0]!, retry: { ...def.steps[0]!.retry, initialDelay: 1e20, maxDelay: 1e20, backoff: 'fixed' as const, jitter: false } }
  const huge: SagaDefinition = { ...def, steps: [step] }
  const view: SagaView = { id: 's', status: 'running', stepIndex: 0, compPlan: null, deadlineAt: null, steps: new Map() }
  const now = new Date('2026-01-01T00:00:00Z')
  const work = { index: 0, phase: 'action' as const, step, attempt: 1 }

  it.each([
    ['a policy delay of 1e20 ms', { kind: 'transient', error: 'HTTP 503' }],
    ['a 425 with the policy delay of 1e20 ms', { kind: 'pending', error: 'HTTP 425' }],
    ['a Retry-After of 99999999999999 s', { kind: 'transient', error: 'HTTP 429', retryAfterMs: 99999999999999 * 1000 }],
  ] as const)('%s waits 7 days at most', (_what, outcome) => {
    const t = afterCall(huge, view, work, outcome, now).transition
    expect(t.saga.dueAt!.getTime() - now.getTime()).toBe(MAX_RETRY_DELAY_MS)
    expect(() => JSON.stringify(t)).not.toThrow()
  })
})
