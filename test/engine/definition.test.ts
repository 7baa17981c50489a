import { describe, expect, it } from 'vitest'
import { DEFAULTS, definitionChecksum, parseDefinition, type SagaDefinition } from '../../src/engine/definition.js'

// SPEC.md §2, verbatim.
const SPEC_YAML = `name: order-checkout
description: Place an order and take payment
timeout: 5m                      # saga deadline; past it, compensation starts
defaults:
  timeout: 10s                   # per call
  retry: { maxAttempts: 3, backoff: exponential, initialDelay: 200ms, maxDelay: 10s, jitter: true }
  compensationRetry: { maxAttempts: 5, backoff: exponential, initialDelay: 1s }
steps:
  - name: validate-customer      # no compensation: nothing to undo
    action: { http: { url: "http://127.0.0.1:7001/customers/validate" } }
  - name: reserve-inventory
    action: { http: { url: "http://127.0.0.1:7002/reservations" } }
    compensation: { http: { url: "http://127.0.0.1:7002/reservations/release" } }
    retry: { maxAttempts: 5, backoff: fixed, initialDelay: 100ms }
  - name: process-payment
    action: { http: { url: "\${env:PAYMENT_URL}/charge", headers: { Authorization: "Bearer \${env:PAYMENT_TOKEN}" } } }
    compensation: { http: { url: "\${env:PAYMENT_URL}/refund" } }
    onFailure: suspend           # a person checks a payment whose outcome is unknown
  - name: send-notification
    action: { module: ./steps/notify.js, export: send }
`

// The same document as JSON, keys in another order.
const SPEC_JSON = JSON.stringify(
  {
    steps: [
      { action: { http: { url: 'http://127.0.0.1:7001/customers/validate' } }, name: 'validate-customer' },
      {
        name: 'reserve-inventory',
        action: { http: { url: 'http://127.0.0.1:7002/reservations' } },
        compensation: { http: { url: 'http://127.0.0.1:7002/reservations/release' } },
        retry: { maxAttempts: 5, backoff: 'fixed', initialDelay: '100ms' },
      },
      {
        name: 'process-payment',
        action: { http: { url: '${env:PAYMENT_URL}/charge', headers: { Authorization: 'Bearer ${env:PAYMENT_TOKEN}' } } },
        compensation: { http: { url: '${env:PAYMENT_URL}/refund' } },
        onFailure: 'suspend',
      },
      { name: 'send-notification', action: { module: './steps/notify.js', export: 'send' } },
    ],
    name: 'order-checkout',
    description: 'Place an order and take payment',
    timeout: '5m',
    defaults: {
      timeout: '10s',
      retry: { maxAttempts: 3, backoff: 'exponential', initialDelay: '200ms', maxDelay: '10s', jitter: true },
      compensationRetry: { maxAttempts: 5, backoff: 'exponential', initialDelay: '1s' },
    },
  },
  null,
  2,
)

const post = (url: string, headers: Record<string, string> = {}) => ({ http: { url, method: 'POST', headers } })
const retry = { maxAttempts: 3, backoff: 'exponential', initialDelay: 200, maxDelay: 10_000, jitter: true } as const
const compensationRetry = { maxAttempts: 5, backoff: 'exponential', initialDelay: 1000, maxDelay: 60_000, jitter: true } as const

const EXPECTED: SagaDefinition = {
  name: 'order-checkout',
  description: 'Place an order and take payment',
  timeout: 300_000,
  steps: [
    { name: 'validate-customer', action: post('http://127.0.0.1:7001/customers/validate'), timeout: 10_000, retry, compensationRetry, onFailure: 'compensate' },
    {
      name: 'reserve-inventory',
      action: post('http://127.0.0.1:7002/reservations'),
      compensation: post('http://127.0.0.1:7002/reservations/release'),
      timeout: 10_000,
      retry: { maxAttempts: 5, backoff: 'fixed', initialDelay: 100, maxDelay: 10_000, jitter: true },
      compensationRetry,
      onFailure: 'compensate',
    },
    {
      name: 'process-payment',
      action: post('${env:PAYMENT_URL}/charge', { Authorization: 'Bearer ${env:PAYMENT_TOKEN}' }),
      compensation: post('${env:PAYMENT_URL}/refund'),
      timeout: 10_000,
      retry,
      compensationRetry,
      onFailure: 'suspend',
    },
    { name: 'send-notification', action: { module: './steps/notify.js', export: 'send' }, timeout: 10_000, retry, compensationRetry, onFailure: 'compensate' },
  ],
}

const problemsOf = (text: string, file = 'saga.yaml') => parseDefinition(text, file).problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message}`)

describe('parseDefinition: valid files', () => {
  it('reads the SPEC.md example and normalises it (durations in ms, defaults merged)', () => {
    const { definition, problems } = parseDefinition(SPEC_YAML, 'order-checkout.yaml')
    expect(problems).toEqual([])
    expect(definition).toEqual(EXPECTED)
    // references stay unresolved: secrets are the worker's business, at call time
    expect(JSON.stringify(definition)).toContain('${env:PAYMENT_TOKEN}')
  })

  it('reads the same definition written as JSON', () => {
    const { definition, problems } = parseDefinition(SPEC_JSON, 'order-checkout.json')
    expect(problems).toEqual([])
    expect(definition).toEqual(EXPECTED)
  })

  it('fills in the built-in defaults when the file has no defaults block', () => {
    const { definition } = parseDefinition('name: tiny\nsteps:\n  - name: only\n    action: { module: ./x.js }\n    compensation: { http: { url: "http://h/u", method: put } }\n', 'f')
    expect(definition).toEqual({
      name: 'tiny',
      steps: [
        {
          name: 'only',
          action: { module: './x.js', export: 'default' },
          compensation: { http: { url: 'http://h/u', method: 'PUT', headers: {} } },
          timeout: 10_000,
          retry: { maxAttempts: 3, backoff: 'exponential', initialDelay: 200, maxDelay: 30_000, jitter: true },
          compensationRetry: { maxAttempts: 5, backoff: 'exponential', initialDelay: 1000, maxDelay: 60_000, jitter: true },
          onFailure: 'compensate',
        },
      ],
    })
    expect(DEFAULTS.retry).toEqual(definition?.steps[0]?.retry)
    expect(DEFAULTS.compensationRetry).toEqual(definition?.steps[0]?.compensationRetry)
    expect(DEFAULTS.callTimeout).toBe(10_000)
  })

  it('merges step over defaults over built-ins field by field; numbers are milliseconds', () => {
    const text = `name: layered
defaults:
  timeout: 2s
  onFailure: suspend
  retry: { backoff: linear, maxDelay: 1m }
  compensationRetry: { jitter: false }
steps:
  - name: a
    action: { module: a.js }
    compensation: { module: a.js, export: undo }
    timeout: 1500
    retry: { maxAttempts: 7, initialDelay: 1.5s }
    compensationRetry: { maxDelay: 1h }
    onFailure: compensate
  - name: b
    action: { module: b.js }
`
    const { definition, problems } = parseDefinition(text, 'f')
    expect(problems).toEqual([])
    const [a, b] = definition?.steps ?? []
    expect(a).toMatchObject({
      timeout: 1500,
      onFailure: 'compensate',
      retry: { maxAttempts: 7, backoff: 'linear', initialDelay: 1500, maxDelay: 60_000, jitter: true },
      compensationRetry: { maxAttempts: 5, backoff: 'exponential', initialDelay: 1000, maxDelay: 3_600_000, jitter: false },
      compensation: { module: 'a.js', export: 'undo' },
    })
    expect(b).toMatchObject({
      timeout: 2000,
      onFailure: 'suspend',
      retry: { maxAttempts: 3, backoff: 'linear', initialDelay: 200, maxDelay: 60_000, jitter: true },
    })
    expect(b).not.toHaveProperty('compensation')
  })

  it('accepts a complete compensationOrder', () => {
    const text = 'name: x\nsteps:\n  - name: a\n    action: { module: a.js }\n    compensation: { module: a.js }\n  - name: b\n    action: { module: a.js }\n    compensation: { module: a.js }\ncompensationOrder: [a, b]\n'
    expect(parseDefinition(text, 'f').definition?.compensationOrder).toEqual(['a', 'b'])
  })
})

describe('parseDefinition: problems with file:line:col', () => {
  it('reports YAML syntax errors at their position and does not validate further', () => {
    expect(problemsOf('name: x\nname: y\nsteps: []\n')).toEqual(['saga.yaml:2:1 Map keys must be unique'])
    expect(problemsOf('name: x\n\tsteps: 1\n')).toEqual(['saga.yaml:2:1 Tabs are not allowed as indentation'])
    expect(parseDefinition('a: [1\n', 'f').definition).toBeUndefined()
  })

  it('reports JSON syntax errors too', () => {
    const problems = parseDefinition('{\n  "name": "x",\n  "steps": [}\n', 'saga.json').problems
    expect(problems.length).toBeGreaterThan(0)
    expect(problems[0]).toMatchObject({ file: 'saga.json', line: 3 })
  })

  it('points every schema problem at the offending node', () => {
    const text = `name: Bad_Name
timeout: 5 minutes
defaults:
  retry: { maxAttempts: 0, backoff: quadratic, jitter: "yes" }
  extra: 1
steps:
  - name: a
    action: { http: { url: "", method: GET } }
    compensation: { http: { url: "http://x" }, module: ./y.js }
  - name: b
    action: {}
    compensaton: { module: ./z.js }
  - name: c
    action: { export: run }
    retry:
`
    expect(problemsOf(text)).toEqual([
      'saga.yaml:1:7 name: must match ^[a-z0-9][a-z0-9._-]*$ (lower-case letters, digits, ".", "_", "-")',
      'saga.yaml:2:10 timeout: invalid duration "5 minutes": expected milliseconds or a string like 200ms, 10s, 5m, 1h, 1d',
      'saga.yaml:4:25 defaults.retry.maxAttempts: must be at least 1 (1 = no retries)',
      'saga.yaml:4:37 defaults.retry.backoff: Invalid option: expected one of "fixed"|"linear"|"exponential"',
      'saga.yaml:4:56 defaults.retry.jitter: Invalid input: expected boolean, received string',
      'saga.yaml:5:3 defaults: unknown key "extra"',
      'saga.yaml:8:28 steps[0].action.http.url: must not be empty',
      'saga.yaml:8:40 steps[0].action.http.method: must be one of POST, PUT, PATCH, DELETE (the step context is sent as a JSON body)',
      'saga.yaml:9:56 steps[0].compensation.module: a call has either http or module, not both',
      'saga.yaml:11:13 steps[1].action: a call needs http: { url } or module: <path>',
      'saga.yaml:12:5 steps[1]: unknown key "compensaton"',
      'saga.yaml:14:13 steps[2].action: a call needs http: { url } or module: <path>',
      'saga.yaml:14:23 steps[2].action.export: export is only valid with module',
      'saga.yaml:15:5 steps[2].retry: Invalid input: expected object, received null',
    ])
  })

  it('reports missing keys, empty files and non-mappings', () => {
    expect(problemsOf('description: hi\n')).toEqual(['saga.yaml:1:1 name is required', 'saga.yaml:1:1 steps is required'])
    expect(problemsOf('name: x\nsteps:\n  - name: a\n')).toEqual(['saga.yaml:3:5 steps[0].action is required'])
    expect(problemsOf('name: x\nsteps: []\n')).toEqual(['saga.yaml:2:8 steps: a saga needs at least one step'])
    expect(problemsOf('')).toEqual(['saga.yaml:1:1 empty definition: expected name and steps'])
    expect(problemsOf('# only a comment\n')).toEqual(['saga.yaml:1:1 empty definition: expected name and steps'])
    expect(problemsOf('just a string\n')).toEqual(['saga.yaml:1:1 a definition must be a mapping with name and steps'])
  })

  it('rejects duplicate step names at the second occurrence', () => {
    const text = 'name: x\nsteps:\n  - name: a\n    action: { module: a.js }\n  - name: a\n    action: { module: a.js }\n'
    expect(problemsOf(text)).toEqual(['saga.yaml:5:11 steps[1].name: duplicate step name "a" (also steps[0])'])
  })

  it('checks compensationOrder: existing steps, with a compensation, each once, all of them', () => {
    const head = 'name: x\nsteps:\n  - name: a\n    action: { module: a.js }\n    compensation: { module: a.js }\n  - name: b\n    action: { module: a.js }\n    compensation: { module: a.js }\n  - name: v\n    action: { module: a.js }\n'
    expect(problemsOf(`${head}compensationOrder: [b, nope, v, b]\n`)).toEqual([
      'saga.yaml:11:20 compensationOrder: must list every step with a compensation; missing: a',
      'saga.yaml:11:24 compensationOrder[1]: unknown step "nope"',
      'saga.yaml:11:30 compensationOrder[2]: step "v" has no compensation',
      'saga.yaml:11:33 compensationOrder[3]: step "b" is listed twice',
    ])
  })

  it('rejects compensationRetry on a step without compensation, and zero timeouts', () => {
    expect(problemsOf('name: x\nsteps:\n  - name: a\n    action: { module: a.js }\n    compensationRetry: { maxAttempts: 2 }\n')).toEqual([
      'saga.yaml:5:24 steps[0].compensationRetry: step has no compensation to retry',
    ])
    expect(problemsOf('name: x\nsteps:\n  - name: a\n    action: { module: a.js }\n    timeout: 0\n')).toEqual([
      'saga.yaml:5:14 steps[0].timeout: must be at least 1ms',
    ])
  })

  it('rejects malformed secret references, which would otherwise be sent literally', () => {
    const text = 'name: x\nsteps:\n  - name: a\n    action: { http: { url: "${PAYMENT_URL}/x", headers: { A: "${env:}" } } }\n'
    expect(problemsOf(text)).toEqual([
      'saga.yaml:4:28 steps[0].action.http.url: unsupported reference ${PAYMENT_URL}: write ${env:NAME}',
      'saga.yaml:4:62 steps[0].action.http.headers.A: unsupported reference ${env:}: write ${env:NAME}',
    ])
  })

  it('gives positions inside JSON files', () => {
    const text = '{\n  "name": "x",\n  "steps": [\n    { "name": "a", "action": { "http": { "url": 7 } }, "retry": { "maxAttempts": 1.5 } }\n  ]\n}\n'
    expect(problemsOf(text, 'saga.json')).toEqual([
      'saga.json:4:49 steps[0].action.http.url: Invalid input: expected string, received number',
      'saga.json:4:82 steps[0].retry.maxAttempts: must be a whole number',
    ])
  })
})

describe('definitionChecksum', () => {
  const checksum = (text: string) => definitionChecksum(parseDefinition(text, 'f').source)

  it('is a sha256 hex digest', () => {
    expect(checksum(SPEC_YAML)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('ignores comments, formatting, key order and YAML vs JSON', () => {
    const reformatted = SPEC_YAML.replace(/ +#.*$/gm, '').replace('description: Place an order and take payment\n', '') +
      '\n# trailing comment\ndescription:    "Place an order and take payment"\n'
    expect(checksum(reformatted)).toBe(checksum(SPEC_YAML))
    expect(checksum(SPEC_JSON)).toBe(checksum(SPEC_YAML))
  })

  it('changes when the content changes', () => {
    expect(checksum(SPEC_YAML.replace('maxAttempts: 5, backoff: fixed', 'maxAttempts: 6, backoff: fixed'))).not.toBe(checksum(SPEC_YAML))
    expect(checksum(SPEC_YAML.replace('onFailure: suspend', 'onFailure: compensate'))).not.toBe(checksum(SPEC_YAML))
  })
})

describe('retry delays longer than the default cap', () => {
  const stepRetry = (text: string) => parseDefinition(text, 'f.yaml').definition?.steps[0]?.retry
  const one = (retry: string, defaults = '') =>
    ['name: t', defaults, 'steps:', '  - name: a', '    action: { http: { url: "http://x/a" } }', `    retry: ${retry}`].filter(Boolean).join('\n')

  it('an initialDelay above the default maxDelay raises the cap to it instead of being cut to 30s', () => {
    expect(stepRetry(one('{ backoff: fixed, initialDelay: 1h }'))).toMatchObject({ initialDelay: 3_600_000, maxDelay: 3_600_000 })
    const { definition } = parseDefinition(one('{ maxAttempts: 2 }', 'defaults: { compensationRetry: { initialDelay: 5m } }'), 'f.yaml')
    expect(definition?.steps[0]?.compensationRetry).toMatchObject({ initialDelay: 300_000, maxDelay: 300_000 })
  })

  it('a fixed backoff gets no jitter unless a layer asks for it', () => {
    expect(stepRetry(one('{ backoff: fixed, initialDelay: 1s }'))?.jitter).toBe(false)
    expect(stepRetry(one('{ backoff: fixed, initialDelay: 1s, jitter: true }'))?.jitter).toBe(true)
    expect(stepRetry(one('{ backoff: fixed }', 'defaults: { retry: { jitter: true } }'))?.jitter).toBe(true)
    expect(stepRetry(one('{ maxAttempts: 4 }'))?.jitter).toBe(true)
  })

  it('refuses initialDelay > maxDelay when both are written, at the layer that says so', () => {
    expect(problemsOf(one('{ initialDelay: 1h, maxDelay: 10s }'))).toEqual([
      'saga.yaml:5:28 steps[0].retry.initialDelay: initialDelay 1h 00m is longer than maxDelay 10s; raise maxDelay or leave it out',
    ])
    expect(problemsOf(one('{ maxDelay: 100ms }'))).toEqual([
      'saga.yaml:5:24 steps[0].retry.maxDelay: initialDelay 200ms is longer than maxDelay 100ms; raise maxDelay or leave it out',
    ])
    expect(problemsOf(one('{ maxAttempts: 2 }', 'defaults: { retry: { initialDelay: 1m, maxDelay: 10s } }'))).toEqual([
      'saga.yaml:2:36 defaults.retry.initialDelay: initialDelay 1m 00s is longer than maxDelay 10s; raise maxDelay or leave it out',
    ])
  })
})
