import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { answers, barrierParticipant, scriptedParticipant } from '../helpers/dtm-participant.js'
import { applyYaml } from '../helpers/engine.js'

const DEFAULTS = 'defaults: { protocol: dtm, timeout: 2s, retry: { maxAttempts: 3, backoff: fixed, initialDelay: 20ms, jitter: false }, compensationRetry: { maxAttempts: 4, backoff: fixed, initialDelay: 20ms, jitter: false } }'

/** A two-branch transfer like DTM's quick_start: TransOut then TransIn, each with its compensation. */
const transfer = (name: string, base: string, extra: string[] = []) =>
  [
    `name: ${name}`,
    DEFAULTS,
    ...extra,
    'steps:',
    `  - { name: trans-out, action: { http: { url: "${base}/TransOut" } }, compensation: { http: { url: "${base}/TransOutCompensate" } } }`,
    `  - { name: trans-in, action: { http: { url: "${base}/TransIn" } }, compensation: { http: { url: "${base}/TransInCompensate" } } }`,
  ].join('\n')

describe.each(drivers)('DTM participants run unchanged under protocol dtm on %s', (kind) => {
  const t = useTestDatabase(kind)
  let engine: Engine
  const servers: Array<{ close: () => Promise<void> }> = []
  const script = async (name: string, s: Parameters<typeof scriptedParticipant>[0]) => {
    const p = await scriptedParticipant(s)
    servers.push(p)
    await applyYaml(t.db, transfer(name, p.base))
    return p
  }
  const calls = (p: Awaited<ReturnType<typeof scriptedParticipant>>) => p.seen.map((r) => `${r.path} ${r.query.branch_id} ${r.query.op}`)

  beforeAll(() => {
    engine = new Engine(t.db)
  })
  afterAll(async () => {
    for (const s of servers) await s.close()
  })

  it('quick_start: the payload is the raw body, gid is the saga id, branches 01 and 02', async () => {
    const p = await script('quick-start', { '/TransOut': [answers.quickStart], '/TransIn': [answers.quickStart] })
    const { saga } = await engine.start('quick-start', { amount: 30 })
    expect((await engine.run(saga.id)).status).toBe('completed')
    expect(p.seen.map((r) => ({ path: r.path, query: r.query, body: r.body }))).toEqual([
      { path: '/TransOut', query: { gid: saga.id, trans_type: 'saga', branch_id: '01', op: 'action' }, body: '{"amount":30}' },
      { path: '/TransIn', query: { gid: saga.id, trans_type: 'saga', branch_id: '02', op: 'action' }, body: '{"amount":30}' },
    ])
  })

  it('200 {"dtm_result":"FAILURE"} rolls back, compensating the failed branch first, then the earlier one', async () => {
    const p = await script('failure-200', { '/TransOut': [answers.wrapNil], '/TransIn': [answers.result('FAILURE')] })
    const { saga } = await engine.start('failure-200', { amount: 30 })
    const done = await engine.run(saga.id)
    expect(done.status).toBe('compensated')
    expect(done.reason).toContain('HTTP 200: {"dtm_result":"FAILURE"}')
    expect(calls(p)).toEqual(['/TransOut 01 action', '/TransIn 02 action', '/TransInCompensate 02 compensate', '/TransOutCompensate 01 compensate'])
  })

  it('a 500 whose body says FAILURE fails at once, not retried', async () => {
    const p = await script('failure-500', { '/TransOut': [{ status: 500, body: '{"error":"FAILURE"}' }] })
    const { saga } = await engine.start('failure-500', { amount: 30 })
    expect((await engine.run(saga.id)).status).toBe('compensated')
    expect(calls(p)).toEqual(['/TransOut 01 action', '/TransOutCompensate 01 compensate'])
  })

  it('ONGOING (200 body or 425) asks again without using up an attempt', async () => {
    const p = await script('ongoing', { '/TransOut': [answers.result('ONGOING'), answers.result('ONGOING'), answers.wrapOngoing, answers.wrapNil] })
    await applyYaml(t.db, transfer('ongoing', p.base, ['timeout: 1m']).replace('maxAttempts: 3', 'maxAttempts: 1'))
    const { saga } = await engine.start('ongoing', { amount: 30 })
    expect((await engine.run(saga.id)).status).toBe('completed')
    expect(calls(p)).toEqual(['/TransOut 01 action', '/TransOut 01 action', '/TransOut 01 action', '/TransOut 01 action', '/TransIn 02 action'])
  })

  it('other 4xx and 5xx are retried, as DTM does', async () => {
    const p = await script('retried', { '/TransOut': [{ status: 400, body: '{"error":"bad"}' }, answers.wrapError('db down'), answers.wrapNil] })
    const { saga } = await engine.start('retried', { amount: 30 })
    expect((await engine.run(saga.id)).status).toBe('completed')
    expect(calls(p).filter((c) => c.startsWith('/TransOut '))).toHaveLength(3)
  })

  it('a compensation answering 409 or FAILURE is retried until it succeeds', async () => {
    const p = await script('comp-retry', {
      '/TransIn': [answers.wrapFailure],
      '/TransOutCompensate': [answers.wrapFailure, answers.result('FAILURE'), answers.wrapNil],
    })
    const { saga } = await engine.start('comp-retry', { amount: 30 })
    expect((await engine.run(saga.id)).status).toBe('compensated')
    expect(calls(p).filter((c) => c.startsWith('/TransOutCompensate'))).toHaveLength(3)
  })

  describe('a barrier-guarded transfer (dtmcli BranchBarrier on gid, branch_id, op)', () => {
    let bank: Awaited<ReturnType<typeof barrierParticipant>>
    beforeAll(async () => {
      bank = await barrierParticipant(t.db)
      servers.push(bank)
      await applyYaml(
        t.db,
        [
          'name: barrier-transfer',
          DEFAULTS,
          'steps:',
          `  - { name: trans-out, action: { http: { url: "${bank.base}/SagaBTransOut" } }, compensation: { http: { url: "${bank.base}/SagaBTransOutCom" } } }`,
          `  - { name: trans-in, action: { http: { url: "${bank.base}/SagaBTransIn" } }, compensation: { http: { url: "${bank.base}/SagaBTransInCom" } } }`,
        ].join('\n'),
      )
    })
    const transferOnce = async (input: Record<string, unknown>) => {
      const before = await bank.balances()
      const { saga } = await engine.start('barrier-transfer', { amount: 30, ...input })
      const done = await engine.run(saga.id)
      const after = await bank.balances()
      return { done, moved: after.map((b, i) => b - before[i]!), calls: bank.calls.filter((c) => c.query.gid === saga.id) }
    }

    it('moves the amount once', async () => {
      const r = await transferOnce({})
      expect(r.done.status).toBe('completed')
      expect(r.moved).toEqual([-30, 30])
    })

    it('rolls back a FAILURE: the failed branch compensation is a null compensation, the other is undone', async () => {
      const r = await transferOnce({ trans_in_result: 'FAILURE' })
      expect(r.done.status).toBe('compensated')
      expect(r.moved).toEqual([0, 0])
      expect(r.calls.map((c) => `${c.path.split('/').pop()} ${c.query.op}`)).toEqual([
        'SagaBTransOut action', 'SagaBTransIn action', 'SagaBTransInCom compensate', 'SagaBTransOutCom compensate',
      ])
    })

    it('a lost answer is retried and the barrier keeps the effect exactly once', async () => {
      const ok = await transferOnce({ lose_first_answer: true })
      expect(ok.done.status).toBe('completed')
      expect(ok.moved).toEqual([-30, 30])
      expect(ok.calls).toHaveLength(4)
      const rolled = await transferOnce({ lose_first_answer: true, trans_in_result: 'FAILURE' })
      expect(rolled.done.status).toBe('compensated')
      expect(rolled.moved).toEqual([0, 0])
    })
  })
})
