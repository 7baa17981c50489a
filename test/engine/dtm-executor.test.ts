import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { renderBody } from '../../src/engine/body-template.js'
import { parseDefinition, type HttpCall } from '../../src/engine/definition.js'
import { dtmBranchId, executeCall, type StepContext } from '../../src/engine/executors/index.js'
import { answers, GIN_JSON, scriptedParticipant, type Answer } from '../helpers/dtm-participant.js'

const routes: Record<string, Answer[]> = {
  '/quick-start': [answers.quickStart],
  '/nil': [answers.wrapNil],
  '/success': [answers.result('SUCCESS')],
  '/output': [{ status: 200, body: '{"reservation":"r-9"}' }],
  '/failure-200': [answers.result('FAILURE')],
  '/failure-409': [answers.wrapFailure],
  '/failure-wrap2': [answers.wrap2Failure],
  '/failure-500': [{ status: 500, body: '{"error":"insufficient balance FAILURE"}' }],
  '/ongoing-200': [answers.result('ONGOING')],
  '/ongoing-425': [answers.wrapOngoing],
  '/error-500': [answers.wrapError('db is down')],
  '/error-400': [{ status: 400, body: '{"error":"bad request"}' }],
  '/error-404': [{ status: 404, body: '404 page not found' }],
  '/created-201': [{ status: 201, body: '{}' }],
  '/moved-307': [{ status: 307, body: '', headers: { location: '/success' } }],
}

let p: Awaited<ReturnType<typeof scriptedParticipant>>
beforeAll(async () => {
  p = await scriptedParticipant(routes)
})
afterAll(() => p.close())
beforeEach(() => {
  p.seen.length = 0
})

const SAGA = '01900000-0000-7000-8000-0000000000aa'
const ctx = (over: Partial<StepContext> = {}): StepContext => ({
  sagaId: SAGA,
  step: 'trans-out',
  phase: 'action',
  attempt: 1,
  input: { amount: 30, trans_in_result: '' },
  results: { quote: { fee: 2, currency: 'EUR' } },
  index: 0,
  ...over,
})
const dtm = (path: string, body?: unknown): HttpCall => ({ http: { url: `${p.base}${path}`, method: 'POST', headers: {}, protocol: 'dtm', ...(body === undefined ? {} : { body }) } })
const opts = { timeoutMs: 2000, defsDir: '/nonexistent' }

describe('protocol dtm: the request DTM sends', () => {
  it('posts the saga input as the raw body with gid, trans_type, branch_id and op in the query', async () => {
    await executeCall(dtm('/quick-start'), ctx(), opts)
    await executeCall(dtm('/quick-start'), ctx({ index: 1, phase: 'compensation', step: 'trans-in' }), opts)
    expect(p.seen).toEqual([
      { method: 'POST', path: '/quick-start', query: { gid: SAGA, trans_type: 'saga', branch_id: '01', op: 'action' }, contentType: 'application/json', body: '{"amount":30,"trans_in_result":""}' },
      { method: 'POST', path: '/quick-start', query: { gid: SAGA, trans_type: 'saga', branch_id: '02', op: 'compensate' }, contentType: 'application/json', body: '{"amount":30,"trans_in_result":""}' },
    ])
  })

  it('keeps query parameters already in the URL', async () => {
    await executeCall(dtm('/quick-start?tenant=acme'), ctx(), opts)
    expect(p.seen[0]?.query).toEqual({ tenant: 'acme', gid: SAGA, trans_type: 'saga', branch_id: '01', op: 'action' })
  })

  it('numbers branches as DTM does: %02d of the 1-based step position', () => {
    expect([0, 1, 8, 9, 98, 99].map(dtmBranchId)).toEqual(['01', '02', '09', '10', '99', '100'])
  })

  it('sends a body template with references to the input and earlier results, types kept', async () => {
    const body = { amount: '${input.amount}', fee: '${results.quote.fee}', memo: 'fee ${results.quote.fee} ${results.quote.currency}', fixed: [1, true, null] }
    await executeCall(dtm('/quick-start', body), ctx(), opts)
    expect(JSON.parse(p.seen[0]!.body)).toEqual({ amount: 30, fee: 2, memo: 'fee 2 EUR', fixed: [1, true, null] })
  })

  it('a body that refers to a missing field fails the step without calling the participant', async () => {
    const out = await executeCall(dtm('/quick-start', { amount: '${input.total}' }), ctx(), opts)
    expect(out).toEqual({ kind: 'business', error: 'cannot build the request body: ${input.total} is not set ("total" is missing)' })
    expect(p.seen).toHaveLength(0)
  })

  it('resolves step names that contain dots', () => {
    expect(renderBody('${results.v1.quote.id}', { input: null, results: { 'v1.quote': { id: 7 }, v1: {} } })).toBe(7)
  })
})

describe('protocol dtm: what an answer means (dtmcli HTTPResp2DtmError)', () => {
  it.each([
    ['quick_start c.JSON(200, "")', '/quick-start', ''],
    ['WrapHandler nil: 200 null', '/nil', null],
    ['200 {"dtm_result":"SUCCESS"}', '/success', { dtm_result: 'SUCCESS' }],
    ['200 with any other body', '/output', { reservation: 'r-9' }],
  ])('%s is success, the body is the output', async (_name, path, output) => {
    expect(await executeCall(dtm(path), ctx(), opts)).toEqual({ kind: 'success', output })
  })

  it.each([
    ['200 {"dtm_result":"FAILURE"}', '/failure-200', 'HTTP 200: {"dtm_result":"FAILURE"}'],
    ['WrapHandler ErrFailure: 409', '/failure-409', 'HTTP 409: {"error":"FAILURE"}'],
    ['WrapHandler2 ErrFailure: 409 with dtm_result', '/failure-wrap2', 'HTTP 409: {"dtm_result":"FAILURE","message":"FAILURE"}'],
    ['a 500 whose body says FAILURE', '/failure-500', 'HTTP 500: {"error":"insufficient balance FAILURE"}'],
  ])('%s fails the action at once, and its compensation still runs', async (_name, path, error) => {
    expect(await executeCall(dtm(path), ctx(), opts)).toEqual({ kind: 'business', error, compensate: true })
  })

  it.each(['/failure-200', '/failure-409'])('a compensation answering FAILURE (%s) is retried', async (path) => {
    expect(await executeCall(dtm(path), ctx({ phase: 'compensation' }), opts)).toMatchObject({ kind: 'transient' })
  })

  it.each([
    ['200 {"dtm_result":"ONGOING"}', '/ongoing-200'],
    ['WrapHandler ErrOngoing: 425', '/ongoing-425'],
  ])('%s asks again later without using up an attempt', async (_name, path) => {
    expect(await executeCall(dtm(path), ctx(), opts)).toMatchObject({ kind: 'pending' })
    expect(await executeCall(dtm(path), ctx({ phase: 'compensation' }), opts)).toMatchObject({ kind: 'pending' })
  })

  it.each([
    ['WrapHandler other error: 500', '/error-500'],
    ['400', '/error-400'],
    ['404', '/error-404'],
    ['201 (DTM accepts only 200)', '/created-201'],
  ])('%s is retried', async (_name, path) => {
    expect(await executeCall(dtm(path), ctx(), opts)).toMatchObject({ kind: 'transient' })
  })

  it('a redirect is not followed (DTM would follow it): the call fails at once, not retried', async () => {
    expect(await executeCall(dtm('/moved-307'), ctx(), opts)).toEqual({ kind: 'business', error: 'HTTP 307 redirect to /success (not followed)' })
    expect(p.seen.map((s) => s.path)).toEqual(['/moved-307'])
  })

  it('the same answers keep sagactl meanings without protocol: dtm', async () => {
    const plain = (path: string): HttpCall => ({ http: { url: `${p.base}${path}`, method: 'POST', headers: {} } })
    expect(await executeCall(plain('/failure-200'), ctx(), opts)).toEqual({ kind: 'success', output: { dtm_result: 'FAILURE' } })
    expect(await executeCall(plain('/error-400'), ctx(), opts)).toMatchObject({ kind: 'business' })
    expect(p.seen.every((s) => Object.keys(s.query).length === 0)).toBe(true)
    expect(p.seen[0]?.contentType).not.toBe(GIN_JSON)
  })
})

describe('definitions: protocol and body', () => {
  const problems = (yaml: string) => parseDefinition(yaml, 'd.yaml').problems.map((x) => `${x.line}:${x.col} ${x.message}`)

  it('protocol: dtm on a step or in defaults marks its http calls; sagactl stays the default', () => {
    const { definition } = parseDefinition(
      ['name: t', 'defaults: { protocol: dtm }', 'steps:',
        '  - { name: a, action: { http: { url: "http://x/a", body: { n: "${input.n}" } } }, compensation: { http: { url: "http://x/ac" } } }',
        '  - { name: b, protocol: sagactl, action: { http: { url: "http://x/b" } } }'].join('\n'), 'd.yaml')
    expect(definition?.steps[0]?.action).toEqual({ http: { url: 'http://x/a', method: 'POST', headers: {}, protocol: 'dtm', body: { n: '${input.n}' } } })
    expect(definition?.steps[0]?.compensation).toEqual({ http: { url: 'http://x/ac', method: 'POST', headers: {}, protocol: 'dtm' } })
    expect(definition?.steps[1]?.action).toEqual({ http: { url: 'http://x/b', method: 'POST', headers: {} } })
  })

  it('refuses a body outside protocol dtm, secrets and unknown references in a body, and protocol on a module step', () => {
    expect(problems(['name: t', 'steps:', '  - name: a', '    action: { http: { url: "http://x/a", body: 1 } }'].join('\n'))).toEqual([
      '4:48 steps[0].action.http.body: body is sent only under protocol: dtm (the sagactl protocol sends the step context)',
    ])
    expect(problems(['name: t', 'defaults: { protocol: dtm }', 'steps:', '  - name: a', '    action:', '      http:', '        url: "http://x/a"', '        body: { token: "${env:TOKEN}", n: "${amount}" }'].join('\n'))).toEqual([
      '8:24 steps[0].action.http.body.token: ${env:TOKEN}: a body cannot hold secrets; put ${env:...} in a header',
      '8:43 steps[0].action.http.body.n: ${amount}: write ${input}, ${input.<field>} or ${results.<step>.<field>}',
    ])
    expect(problems(['name: t', 'steps:', '  - { name: a, protocol: dtm, action: { module: ./a.js } }'].join('\n'))).toEqual([
      '3:26 steps[0].protocol: protocol applies to http calls; this step has none',
    ])
  })
})
