import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileErrors, validate } from '@readme/openapi-parser'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  EventPageSchema,
  ForkResultSchema,
  InterventionPageSchema,
  MigrateResultSchema,
  SagaDetailSchema,
  SagaPageSchema,
  SagaSchema,
} from '../../src/http/schemas.js'
import { runCli, spawnCli, startServe, type ServeProcess } from '../helpers/cli.js'
import { curl, postJson } from '../helpers/curl.js'
import { freshPgSchema, pgUrl } from '../helpers/db.js'
import { FIXTURE_STEPS, scriptedDefinition, waitFor } from '../helpers/engine.js'

const PYTHON_CLIENT = fileURLToPath(new URL('../../examples/clients/python/sagactl_client.py', import.meta.url))

function untilExit(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)))
}

describe.runIf(pgUrl)('sagactl serve, driven with curl', () => {
  let s: Awaited<ReturnType<typeof freshPgSchema>>
  let db: pg.Client
  let api: ServeProcess
  let worker: ChildProcess
  let dir: string
  const tokens: Record<'read' | 'start' | 'operate', string> = { read: '', start: '', operate: '' }
  const db$ = () => ['--database-url', s.url, '--schema', s.schema]
  const cli = (args: string[]) => runCli([...args, ...db$()], { cwd: dir })
  const url = (path: string) => `${api.url}${path}`

  beforeAll(async () => {
    s = await freshPgSchema()
    dir = mkdtempSync(join(tmpdir(), 'sagactl-http-'))
    writeFileSync(join(dir, 'checkout.yaml'), scriptedDefinition('checkout', [{ name: 'reserve' }, { name: 'charge' }], 'timeout: 5m'))
    writeFileSync(join(dir, 'careful.yaml'), scriptedDefinition('careful', [{ name: 'charge', onFailure: 'suspend' }]))
    writeFileSync(join(dir, 'repairs.yaml'), scriptedDefinition('repairs', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }, { name: 'ship' }]))
    expect((await cli(['db', 'migrate'])).code).toBe(0)
    expect((await cli(['def', 'apply', dir])).code).toBe(0)
    for (const role of ['read', 'start', 'operate'] as const) {
      const res = await cli(['token', 'create', '--name', `svc-${role}`, '--role', role, '--json', '--operator', 'ana'])
      expect(res.code).toBe(0)
      const out = JSON.parse(res.stdout)
      expect(Object.keys(out).sort()).toEqual(['name', 'role', 'token'])
      tokens[role] = out.token
    }
    db = new pg.Client({ connectionString: s.url, options: `-c search_path=${s.schema}` })
    await db.connect()
    worker = spawnCli(['worker', '--defs', FIXTURE_STEPS, ...db$()])
    // The API's health rules take their thresholds from sagactl.yaml, as `sagactl health` does.
    writeFileSync(join(dir, 'sagactl.yaml'), 'health:\n  maxOpenInterventions: 7\n  maxCompensationDuration: 90s\n')
    api = await startServe([...db$(), '--max-body', '4'], { cwd: dir })
  }, 180_000)
  afterAll(async () => {
    for (const child of [worker, api?.child]) {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM')
        await untilExit(child)
      }
    }
    await db?.end()
    await s.drop()
  })

  it('tokens: printed once, only a hash stored, listed without the secret, creation audited', async () => {
    const rows = await db.query(`SELECT name, role, token_hash FROM api_tokens ORDER BY name`)
    expect(rows.rows.map((r) => r.name)).toEqual(['svc-operate', 'svc-read', 'svc-start'])
    expect(rows.rows.find((r) => r.name === 'svc-start')!.token_hash).toBe(createHash('sha256').update(tokens.start).digest('hex'))
    const list = await cli(['token', 'list', '--json'])
    expect(list.code).toBe(0)
    expect(list.stdout).not.toContain(tokens.start)
    expect(JSON.parse(list.stdout).items[0]).toMatchObject({ name: 'svc-operate', role: 'operate', createdBy: 'ana' })
    const audit = await db.query(`SELECT operator, action, target FROM audit_log WHERE action = 'token.create' ORDER BY id`)
    expect(audit.rows).toEqual(['read', 'start', 'operate'].map((r) => ({ operator: 'ana', action: 'token.create', target: `svc-${r}` })))
    expect((await cli(['token', 'create', '--name', 'svc-read', '--role', 'read'])).code).toBe(4)
  })

  it('refuses requests without a valid token (401) and with a role too small (403)', async () => {
    const none = await curl([url('/v1/sagas')])
    expect(none.status).toBe(401)
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/)
    expect(none.json()).toEqual({ error: { code: 'unauthorized', message: 'missing bearer token', hint: expect.any(String) } })
    expect((await curl([url('/v1/health')], { token: 'sgt_not-a-token' })).status).toBe(401)
    const readStarts = await postJson(url('/v1/sagas'), { definition: 'checkout' }, tokens.read)
    expect(readStarts.status).toBe(403)
    expect(readStarts.json().error.code).toBe('forbidden')
    expect((await postJson(url('/v1/sagas/0000/abort'), { reason: 'x', force: true }, tokens.start)).status).toBe(403)
  })

  it('POST /v1/sagas: 201 with the saga, 200 for a key used before; 400, 404 and 413 with error bodies', async () => {
    const created = await postJson(url('/v1/sagas'), { definition: 'checkout', input: { order: 1 }, key: 'order-1' }, tokens.start)
    expect(created.status).toBe(201)
    const saga = SagaSchema.parse(created.json())
    expect(saga).toMatchObject({ definition: 'checkout', version: 1, status: 'pending', key: 'order-1', input: { order: 1 } })
    const again = await postJson(url('/v1/sagas'), { definition: 'checkout', input: { order: 2 }, key: 'order-1' }, tokens.start)
    expect(again.status).toBe(200)
    expect(again.json().id).toBe(saga.id)
    const bad = await postJson(url('/v1/sagas'), { input: {} }, tokens.start)
    expect(bad.status).toBe(400)
    expect(bad.json().error).toMatchObject({ code: 'usage', message: expect.stringContaining('definition') })
    const unknown = await postJson(url('/v1/sagas'), { definition: 'nope' }, tokens.start)
    expect(unknown.status).toBe(404)
    expect(unknown.json().error).toEqual({ code: 'not_found', message: 'definition "nope" not found', hint: 'apply it first: sagactl def apply <file>' })
    const tooBig = await postJson(url('/v1/sagas'), { definition: 'checkout', input: { blob: 'x'.repeat(8 * 1024) } }, tokens.start)
    expect(tooBig.status).toBe(413)
    expect(tooBig.json().error.code).toBe('too_large')
    // A chunked body has no length to judge it by: it is counted as it arrives.
    const chunked = (body: unknown) =>
      curl(['-X', 'POST', '-H', 'Content-Type: application/json', '-H', 'Transfer-Encoding: chunked', '--data-binary', JSON.stringify(body), url('/v1/sagas')], { token: tokens.start })
    expect((await chunked({ definition: 'checkout', input: { blob: 'x'.repeat(8 * 1024) } })).status).toBe(413)
    expect((await chunked({ definition: 'checkout', input: { order: 4 } })).status).toBe(201)
    // The CLI prints the same saga object the API returns: one schema for both.
    const fromCli = await cli(['saga', 'start', 'checkout', '--input', '{"order":3}', '--json'])
    expect(SagaSchema.safeParse(JSON.parse(fromCli.stdout)).success).toBe(true)
  })

  it('GET /v1/sagas/{prefix}?wait= holds until the saga has run; events as JSON and as an SSE stream that ends with it', async () => {
    const { id } = (await postJson(url('/v1/sagas'), { definition: 'checkout', input: {} }, tokens.start)).json()
    const waited = await curl([url(`/v1/sagas/${id.slice(0, 23)}?wait=30s`)], { token: tokens.read })
    expect(waited.status).toBe(200)
    const detail = SagaDetailSchema.parse(waited.json())
    expect(detail).toMatchObject({ id, status: 'completed', intervention: null })
    expect(detail.steps.map((st) => `${st.name}:${st.status}`)).toEqual(['reserve:succeeded', 'charge:succeeded'])
    const events = EventPageSchema.parse((await curl([url(`/v1/sagas/${id}/events?limit=3`)], { token: tokens.read })).json())
    expect(events.items.map((e) => e.type)).toEqual(['saga.created', 'saga.started', 'step.started'])
    const rest = EventPageSchema.parse((await curl([url(`/v1/sagas/${id}/events?after=${events.next}`)], { token: tokens.read })).json())
    expect(rest.items.at(-1)!.type).toBe('saga.completed')
    const sse = await curl(['-N', '-H', 'Accept: text/event-stream', url(`/v1/sagas/${id}/events`)], { token: tokens.read })
    expect(sse.headers['content-type']).toMatch(/^text\/event-stream/)
    const types = [...sse.body.matchAll(/^event: (.+)$/gm)].map((m) => m[1])
    expect(types).toEqual([...events.items, ...rest.items].map((e) => e.type).concat('end'))
    expect(sse.body).toContain('data: {"status":"completed"')
    expect((await curl([url('/v1/sagas/ffff0000?wait=1s')], { token: tokens.read })).status).toBe(404)
  })

  it('GET /v1/sagas filters and pages like saga list', async () => {
    const first = SagaPageSchema.parse((await curl([url('/v1/sagas?definition=checkout&limit=2')], { token: tokens.read })).json())
    expect(first.items).toHaveLength(2)
    expect(first.next).toBe(first.items[1]!.id)
    const second = SagaPageSchema.parse((await curl([url(`/v1/sagas?definition=checkout&limit=2&after=${first.next}`)], { token: tokens.read })).json())
    expect(second.items[0]!.id < first.items[1]!.id).toBe(true)
    const cli = JSON.parse((await runCli(['saga', 'list', '--def', 'checkout', '--limit', '2', '--json', ...db$()])).stdout)
    expect(first.items.map((x) => x.id)).toEqual(cli.items.map((x: { id: string }) => x.id))
    const none = (await curl([url('/v1/sagas?status=failed&since=1h')], { token: tokens.read })).json()
    expect(none).toEqual({ items: [], next: null })
    const bad = await curl([url('/v1/sagas?status=bogus')], { token: tokens.read })
    expect(bad.status).toBe(400)
    expect(bad.json().error.message).toMatch(/unknown status "bogus"/)
  })

  it('operators act and resolve interventions, audited under the token name; conflicts are 409', async () => {
    const { id } = (await postJson(url('/v1/sagas'), { definition: 'careful', input: { script: { charge: { action: ['business'] } } } }, tokens.start)).json()
    const suspended = (await curl([url(`/v1/sagas/${id}?wait=30s`)], { token: tokens.read })).json()
    expect(suspended.status).toBe('suspended')
    const queue = InterventionPageSchema.parse((await curl([url('/v1/interventions')], { token: tokens.read })).json())
    const intervention = queue.items.find((i) => i.sagaId === id)!
    expect(intervention).toMatchObject({ status: 'open', step: 'charge' })
    const noForce = await postJson(url(`/v1/sagas/${id}/abort`), { reason: 'customer gone' }, tokens.operate)
    expect(noForce.status).toBe(400)
    const resolved = await postJson(url(`/v1/interventions/${intervention.id}/resolve`), { action: 'compensate', note: 'refund by hand' }, tokens.operate)
    expect(resolved.status).toBe(200)
    const done = (await curl([url(`/v1/sagas/${id}?wait=30s`)], { token: tokens.read })).json()
    expect(done.status).toBe('compensated')
    const late = await postJson(url(`/v1/sagas/${id}/abort`), { reason: 'too late', force: true }, tokens.operate)
    expect(late.status).toBe(409)
    expect(late.json().error.code).toBe('conflict')
    expect((await postJson(url(`/v1/interventions/${intervention.id}/resolve`), { action: 'retry', note: 'again' }, tokens.operate)).status).toBe(409)
    const audit = await db.query(`SELECT operator, action FROM audit_log WHERE saga_id = $1 ORDER BY id`, [id])
    expect(audit.rows).toEqual([{ operator: 'svc-operate', action: 'intervention.resolve' }])
  })

  it('repairs: fork (plan, refusal, a fork that never calls the kept step), migrate, skip with output, retry from a step with a new input', async () => {
    const { id } = (await postJson(url('/v1/sagas'), { definition: 'repairs', input: { script: { charge: { action: ['business'] } } } }, tokens.start)).json()
    expect((await curl([url(`/v1/sagas/${id}?wait=30s`)], { token: tokens.read })).json()).toMatchObject({ status: 'suspended', currentStep: 'charge' })
    writeFileSync(join(dir, 'repairs-v2.yaml'), scriptedDefinition('repairs', [{ name: 'reserve' }, { name: 'charge', onFailure: 'suspend' }, { name: 'ship' }], 'timeout: 10m'))
    expect((await cli(['def', 'apply', join(dir, 'repairs-v2.yaml')])).code).toBe(0)
    const post = (action: string, body: unknown, token = tokens.operate) => postJson(url(`/v1/sagas/${id}/${action}`), body, token)

    const plan = await post('fork', { fromStep: 'charge', version: 'latest', dryRun: true })
    expect(plan.status).toBe(200)
    expect(ForkResultSchema.parse(plan.json())).toMatchObject({ saga: null, plan: { allowed: true, version: 2, steps: [{ step: 'reserve', action: 'keep' }, { step: 'charge', action: 'call' }, { step: 'ship', action: 'call' }] } })
    const wouldRefuse = (await post('fork', { fromStep: 'ship', dryRun: true })).json()
    expect(wouldRefuse.plan).toMatchObject({ allowed: false, refusal: `saga ${id} has not finished step "charge": fork from "charge" or an earlier step` })
    const refused = await post('fork', { fromStep: 'ship', reason: 'try' })
    expect([refused.status, refused.json().error.code]).toEqual([409, 'conflict'])
    expect((await post('fork', { fromStep: 'charge', version: 'newest', reason: 'x' })).status).toBe(400)
    expect((await post('fork', { fromStep: 'charge', reason: 'x' }, tokens.start)).status).toBe(403)

    const forked = await post('fork', { fromStep: 'charge', input: {}, version: 'latest', reason: 'card replaced' })
    expect(forked.status).toBe(201)
    const fork = ForkResultSchema.parse(forked.json()).saga!
    expect(fork).toMatchObject({ forkedFrom: id, version: 2, key: null })
    expect((await curl([url(`/v1/sagas/${fork.id}?wait=30s`)], { token: tokens.read })).json()).toMatchObject({ status: 'completed' })
    const forkEvents = EventPageSchema.parse((await curl([url(`/v1/sagas/${fork.id}/events`)], { token: tokens.read })).json())
    expect(forkEvents.items.filter((e) => e.type === 'step.started').map((e) => e.step)).toEqual(['charge', 'ship'])

    const migratePlan = await post('migrate', { toVersion: 'latest', dryRun: true })
    expect(MigrateResultSchema.parse(migratePlan.json())).toMatchObject({ saga: null, plan: { allowed: true, fromVersion: 1, toVersion: 2 } })
    const moved = await post('migrate', { toVersion: 2, reason: 'new version' })
    expect(moved.status).toBe(200)
    expect(MigrateResultSchema.parse(moved.json()).saga).toMatchObject({ version: 2, status: 'suspended' })
    const again = await post('migrate', { toVersion: 2, reason: 'twice' })
    expect([again.status, again.json().error.message]).toEqual([409, `saga ${id} is already on version 2`])

    const skipped = await post('skip', { step: 'charge', reason: 'charged by phone', output: { charged: 25 } })
    expect(skipped.status).toBe(200)
    const done = SagaDetailSchema.parse((await curl([url(`/v1/sagas/${id}?wait=30s`)], { token: tokens.read })).json())
    expect(done.status).toBe('completed')
    expect(done.steps.find((st) => st.name === 'charge' && st.phase === 'action')).toMatchObject({ status: 'skipped', output: { charged: 25 } })
    expect(done.forks).toEqual([{ id: fork.id, status: 'completed', version: 2, currentStep: null, createdAt: expect.any(String) }])

    const rerun = await post('retry', { fromStep: 'ship', input: { n: 2 }, reason: 'label lost' })
    expect(rerun.status).toBe(200)
    expect(SagaSchema.parse(rerun.json())).toMatchObject({ status: 'running', currentStep: 'ship', input: { n: 2 } })
    expect((await curl([url(`/v1/sagas/${id}?wait=30s`)], { token: tokens.read })).json()).toMatchObject({ status: 'completed' })
    const audit = await db.query(`SELECT operator, action FROM audit_log WHERE saga_id = $1 ORDER BY id`, [id])
    expect(audit.rows).toEqual(['saga.fork', 'saga.migrate', 'saga.skip', 'saga.rerun'].map((action) => ({ operator: 'svc-operate', action })))
  })

  it('health and the OpenAPI document, which a validator accepts', async () => {
    const health = await curl([url('/v1/health')], { token: tokens.read })
    expect([200, 503]).toContain(health.status)
    expect(health.json()).toMatchObject({ healthy: health.status === 200, rules: expect.any(Array) })
    const threshold = (name: string) => (health.json() as { rules: Array<{ name: string; threshold: number }> }).rules.find((r) => r.name === name)?.threshold
    expect([threshold('open-interventions'), threshold('compensation-duration')]).toEqual([7, 90_000])
    const doc = (await curl([url('/v1/openapi.json')], { token: tokens.read })).json()
    const result = await validate(structuredClone(doc))
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true)
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/v1/audit', '/v1/definitions/{name}/diff', '/v1/health', '/v1/interventions', '/v1/interventions/{id}/resolve', '/v1/sagas', '/v1/sagas/count', '/v1/sagas/{id}',
      '/v1/sagas/{id}/events', '/v1/sagas/{id}/fork', '/v1/sagas/{id}/migrate', '/v1/sagas/{id}/{action}', '/v1/workers',
    ])
  })

  it('the Python example client (standard library only) starts a saga and follows it to the end', async () => {
    const res = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const child = spawn('python3', [PYTHON_CLIENT, 'checkout', '{"order": 9}', '--key', 'py-9'], {
        env: { ...process.env, SAGACTL_URL: api.url, SAGACTL_TOKEN: tokens.start },
      })
      let out = ''
      let err = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (err += d))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, out, err }))
    })
    expect(res.err).toBe('')
    expect(res.code).toBe(0)
    const lines = res.out.trim().split('\n')
    expect(lines[0]).toMatch(/^started [0-9a-f-]{36}$/)
    expect(lines).toContain('  step.succeeded charge')
    expect(lines.at(-1)).toBe('completed')
    expect((await db.query(`SELECT status FROM sagas WHERE idempotency_key = 'py-9'`)).rows).toEqual([{ status: 'completed' }])
  })

  it('a revoked token is refused; SIGTERM answers a waiting request, then exits 0', async () => {
    const revoke = await cli(['token', 'revoke', 'svc-read', '--operator', 'ana'])
    expect(revoke.code).toBe(0)
    expect((await db.query(`SELECT operator FROM audit_log WHERE action = 'token.revoke' AND target = 'svc-read'`)).rows).toEqual([{ operator: 'ana' }])
    await waitFor(async () => (await curl([url('/v1/health')], { token: tokens.read })).status === 401, 10_000, 250)

    worker.kill('SIGTERM')
    await untilExit(worker)
    const { id } = (await postJson(url('/v1/sagas'), { definition: 'checkout' }, tokens.start)).json()
    const waiting = curl([url(`/v1/sagas/${id}?wait=60s`)], { token: tokens.operate })
    await new Promise((r) => setTimeout(r, 500))
    api.child.kill('SIGTERM')
    const answered = await waiting
    expect(answered.status).toBe(200)
    expect(answered.json()).toMatchObject({ id, status: 'pending' })
    expect(await untilExit(api.child)).toBe(0)
    expect(api.log()).toContain('SIGTERM: draining')
  })
})
