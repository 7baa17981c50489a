import { compileErrors, validate } from '@readme/openapi-parser'
import { beforeAll, describe, expect, it } from 'vitest'
import { createToken } from '../../src/db/queries/tokens.js'
import { createApi } from '../../src/http/app.js'
import { drivers, useTestDatabase } from '../helpers/db.js'
import { applyYaml, scriptedDefinition } from '../helpers/engine.js'
import { insertSaga } from '../helpers/fixtures.js'

/** The HTTP form of saga count, saga delete, audit list, worker list and def diff, called in-process. */
describe.each(drivers)('the operator-day API on %s', (kind) => {
  const t = useTestDatabase(kind)
  let api: ReturnType<typeof createApi>
  const token = { read: '', operate: '' }
  const call = async (role: keyof typeof token, path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await api.app.request(path, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token[role]}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  }

  beforeAll(async () => {
    api = createApi(t.db)
    token.read = (await createToken(t.db, { name: 'dash', role: 'read', operator: 'test' })).token
    token.operate = (await createToken(t.db, { name: 'ops-bot', role: 'operate', operator: 'test' })).token
    await applyYaml(t.db, scriptedDefinition('shop', [{ name: 'reserve' }]))
    await applyYaml(t.db, scriptedDefinition('shop', [{ name: 'reserve' }, { name: 'ship' }]))
  })

  it('GET /v1/sagas/count counts with the list filters; the path is not taken for a saga id', async () => {
    await insertSaga(t.db, { definition: 'shop', status: 'suspended', currentStep: 'reserve' })
    await insertSaga(t.db, { definition: 'shop', status: 'running', currentStep: 'reserve' })
    expect(await call('read', '/v1/sagas/count?definition=shop&by=step')).toEqual({ status: 200, body: { by: 'step', total: 2, groups: [{ key: 'reserve', count: 2 }] } })
    expect((await call('read', '/v1/sagas/count?status=suspended')).body).toEqual({ by: 'status', total: 1, groups: [{ key: 'suspended', count: 1 }] })
    expect((await call('read', '/v1/sagas/count?by=colour')).status).toBe(400)
  })

  it('GET /v1/sagas/count and /v1/sagas take key, tag and where as saga list does; a malformed one is a 400, not ignored', async () => {
    await applyYaml(t.db, scriptedDefinition('found', [{ name: 'reserve' }]))
    const hit = (await insertSaga(t.db, { definition: 'found', status: 'suspended', key: 'order-7', tags: { region: 'eu', channel: 'web' }, input: { customer: { id: 42 } } })).saga
    await insertSaga(t.db, { definition: 'found', status: 'suspended', tags: { region: 'eu' }, input: { customer: { id: 43 } } })
    const one = { by: 'status', total: 1, groups: [{ key: 'suspended', count: 1 }] }
    expect((await call('read', '/v1/sagas/count?definition=found&where=input.customer.id%3D42')).body).toEqual(one)
    expect((await call('read', '/v1/sagas/count?definition=found&tag=region%3Deu&tag=channel%3Dweb')).body).toEqual(one)
    expect((await call('read', '/v1/sagas/count?definition=found&key=order-7')).body).toEqual(one)
    expect((await call('read', '/v1/sagas?definition=found&where=input.customer.id%3D42')).body.items.map((s: { id: string }) => s.id)).toEqual([hit.id])
    for (const bad of ['where=customer.id%3D42', 'where=input.a%22b%3D1', 'tag=region', 'key=']) {
      expect((await call('read', `/v1/sagas/count?definition=found&${bad}`)).status, bad).toBe(400)
    }
  })

  it('DELETE /v1/sagas/{id} needs operate and force, refuses an unfinished saga, and keeps the key reserved', async () => {
    const running = (await insertSaga(t.db, { definition: 'shop', status: 'running' })).saga
    const done = (await insertSaga(t.db, { definition: 'shop', status: 'completed', key: 'api-order-1' })).saga
    const body = { reason: 'test order', force: true }
    expect((await call('read', `/v1/sagas/${done.id}`, { method: 'DELETE', body })).status).toBe(403)
    expect((await call('operate', `/v1/sagas/${done.id}`, { method: 'DELETE', body: { reason: 'x' } })).status).toBe(400)
    const refused = await call('operate', `/v1/sagas/${running.id}`, { method: 'DELETE', body })
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } })
    const deleted = await call('operate', `/v1/sagas/${done.id}`, { method: 'DELETE', body })
    expect(deleted).toMatchObject({ status: 200, body: { id: done.id, status: 'completed', key: 'api-order-1', deletedBy: 'ops-bot' } })
    expect((await call('read', `/v1/sagas/${done.id}`)).status).toBe(404)
    const again = await call('operate', '/v1/sagas', { method: 'POST', body: { definition: 'shop', key: 'api-order-1' } })
    expect(again.status).toBe(409)
    expect(again.body.error.message).toMatch(/^key "api-order-1" belonged to saga /)

    const audit = await call('read', `/v1/audit?saga=key:api-order-1&action=delete`)
    expect(audit).toMatchObject({ status: 200, body: { items: [{ action: 'saga.delete', operator: 'ops-bot', sagaId: done.id, reason: 'test order' }], next: null } })
    expect((await call('read', '/v1/audit?since=soon')).status).toBe(400)
  })

  it('GET /v1/workers and GET /v1/definitions/{name}/diff', async () => {
    await t.db.query(`INSERT INTO workers (id, host, pid, concurrency) VALUES ('api-w', 'box', 3, 2)`)
    expect((await call('read', '/v1/workers')).body).toMatchObject({ items: [{ id: 'api-w', state: 'live', inFlight: 0, sagas: [] }] })
    const diff = await call('read', '/v1/definitions/shop/diff?from=1')
    expect(diff).toMatchObject({ status: 200, body: { name: 'shop', from: 1, to: 2, same: false, steps: [{ step: 'ship', change: 'added', toIndex: 1 }] } })
    const noVersion = await call('read', '/v1/definitions/shop/diff?from=9')
    expect(noVersion).toMatchObject({ status: 404, body: { error: { message: 'definition "shop" has no version 9 (latest is 2)' } } })
    const noName = await call('read', '/v1/definitions/nosuch/diff?from=1')
    expect(noName).toMatchObject({ status: 404, body: { error: { message: 'definition "nosuch" not found' } } })
  })

  it('the OpenAPI document with these routes is valid', async () => {
    const result = await validate(structuredClone(api.document()) as never)
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true)
  })
})
