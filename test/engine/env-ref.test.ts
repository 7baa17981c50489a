import { describe, expect, it } from 'vitest'
import { parseDefinition, type HttpCall } from '../../src/engine/definition.js'
import { envRefNames, malformedRef, missingEnvRefs, resolveCallEnv, resolveEnvRefs } from '../../src/engine/env-ref.js'

const env = { PAYMENT_URL: 'http://127.0.0.1:7003', PAYMENT_TOKEN: 's3cr3t-token', EMPTY: '' }

describe('resolveEnvRefs', () => {
  it('replaces every ${env:NAME}', () => {
    expect(resolveEnvRefs('${env:PAYMENT_URL}/charge?t=${env:PAYMENT_TOKEN}', env)).toBe('http://127.0.0.1:7003/charge?t=s3cr3t-token')
  })

  it('leaves text without references alone, and an empty variable counts as set', () => {
    expect(resolveEnvRefs('http://x/$notaref/{env:X}', env)).toBe('http://x/$notaref/{env:X}')
    expect(resolveEnvRefs('a${env:EMPTY}b', env)).toBe('ab')
  })

  it('throws naming the missing variable', () => {
    expect(() => resolveEnvRefs('Bearer ${env:NOPE_TOKEN}', env)).toThrow(new Error('environment variable NOPE_TOKEN is not set'))
  })

  it('never puts a resolved value into an error', () => {
    try {
      resolveEnvRefs('${env:PAYMENT_TOKEN}${env:MISSING}', env)
      expect.unreachable()
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cr3t')
    }
  })

  it('reads process.env by default', () => {
    process.env.SAGACTL_TEST_ENV_REF = 'yes'
    try {
      expect(resolveEnvRefs('${env:SAGACTL_TEST_ENV_REF}')).toBe('yes')
    } finally {
      delete process.env.SAGACTL_TEST_ENV_REF
    }
  })
})

describe('resolveCallEnv', () => {
  it('returns a resolved copy and leaves the definition untouched', () => {
    const call: HttpCall = {
      http: { url: '${env:PAYMENT_URL}/charge', method: 'POST', headers: { Authorization: 'Bearer ${env:PAYMENT_TOKEN}', 'X-Static': 'a' } },
    }
    const before = structuredClone(call)
    const out = resolveCallEnv(call, env)
    expect(out).toEqual({
      http: { url: 'http://127.0.0.1:7003/charge', method: 'POST', headers: { Authorization: 'Bearer s3cr3t-token', 'X-Static': 'a' } },
    })
    expect(call).toEqual(before)
    expect(out.http.headers).not.toBe(call.http.headers)
  })
})

describe('reference syntax helpers', () => {
  it('lists referenced names and spots malformed references', () => {
    expect(envRefNames('${env:A}/${env:B_2}')).toEqual(['A', 'B_2'])
    expect(malformedRef('${env:A}/x')).toBeUndefined()
    expect(malformedRef('${PAYMENT_URL}/x')).toBe('${PAYMENT_URL}')
    expect(malformedRef('${env:}')).toBe('${env:}')
    expect(malformedRef('${env:BAD-NAME}')).toBe('${env:BAD-NAME}')
  })
})

describe('missingEnvRefs', () => {
  it('names every unset variable of url and headers, with the definition and step using it', () => {
    const { definition } = parseDefinition(
      ['name: order', 'steps:',
        '  - { name: validate, action: { http: { url: "${env:CUSTOMER_URL}/v" } } }',
        '  - { name: pay, action: { http: { url: "${env:PAYMENT_URL}/c", headers: { Authorization: "Bearer ${env:PAYMENT_TOKEN}" } } }, compensation: { http: { url: "${env:REFUND_URL}" } } }',
        '  - { name: note, action: { module: ./n.js } }'].join('\n'), 'o.yaml')
    expect(missingEnvRefs([definition!], { PAYMENT_URL: 'x', EMPTY: '' })).toEqual([
      { variable: 'CUSTOMER_URL', where: 'order validate' },
      { variable: 'PAYMENT_TOKEN', where: 'order pay' },
      { variable: 'REFUND_URL', where: 'order pay' },
    ])
    expect(missingEnvRefs([definition!], { CUSTOMER_URL: '', PAYMENT_URL: '', PAYMENT_TOKEN: '', REFUND_URL: '' })).toEqual([])
  })
})
