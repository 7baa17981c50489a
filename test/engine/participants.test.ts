import { describe, expect, it } from 'vitest'
import { parseDefinition } from '../../src/engine/definition.js'
import { defaultParticipantName, participantFor } from '../../src/engine/participants/names.js'

const parse = (yaml: string) => parseDefinition(yaml, 'p.yaml')

describe('participants in definitions', () => {
  it('names a call by its origin with the port, or its module path, unless a step or defaults name it', () => {
    expect(defaultParticipantName({ http: { url: 'https://psp.example.com/charge', method: 'POST', headers: {} } })).toBe('https://psp.example.com:443')
    expect(defaultParticipantName({ http: { url: '${env:PSP}/charge', method: 'POST', headers: {} } }, { PSP: 'http://10.0.0.7:8080' })).toBe('http://10.0.0.7:8080')
    expect(defaultParticipantName({ module: './steps/notify.js', export: 'send' })).toBe('./steps/notify.js')
    const { definition, problems } = parse(`name: d
defaults: { participant: shared }
participants:
  payments: { maxInFlight: 20, rps: 50, circuit: { failures: 5, within: 30s, cooldown: 1m } }
steps:
  - { name: a, action: { http: { url: "http://x:1/a" } } }
  - { name: b, participant: payments, action: { http: { url: "http://x:1/b" } } }
  - { name: c, participant: { name: payments, maxInFlight: 2 }, action: { module: ./c.js } }
  - { name: d, participant: { rps: 1 }, action: { module: ./d.js } }`)
    expect(problems).toEqual([])
    const [a, b, c, d] = definition!.steps
    expect(participantFor(definition!, a!, 'action')).toEqual({ name: 'shared', maxInFlight: null, rps: null, circuit: null })
    expect(participantFor(definition!, b!, 'action')).toEqual({ name: 'payments', maxInFlight: 20, rps: 50, circuit: { failures: 5, within: 30_000, cooldown: 60_000 } })
    // the step's own limits win field by field
    expect(participantFor(definition!, c!, 'action')).toMatchObject({ name: 'payments', maxInFlight: 2, rps: 50 })
    // limits without a name: the name falls back to defaults.participant
    expect(participantFor(definition!, d!, 'action')).toEqual({ name: 'shared', maxInFlight: null, rps: 1, circuit: null })
  })

  it('refuses malformed limits with file:line:col', () => {
    const { problems } = parse(`name: d
participants:
  payments: { maxInFlight: 0, circuit: { failures: 5, within: 30s } }
steps:
  - { name: a, participant: { rps: -1 }, action: { module: ./a.js } }`)
    expect(problems.map((p) => `${p.line}:${p.message}`)).toEqual([
      '3:participants.payments.maxInFlight: must be at least 1',
      '3:participants.payments.circuit.cooldown: expected a duration: milliseconds or a string like 200ms, 10s, 5m, 1h',
      '5:steps[0].participant.rps: must be a positive number of calls per second',
    ])
  })
})
