import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { pgUrl } from '../helpers/db.js'

const CHAOS = fileURLToPath(new URL('../../bench/chaos.js', import.meta.url))

interface Invariant {
  name: string
  ok: boolean
  failures: number
  examples: string[]
}

interface ChaosReport {
  ok: boolean
  sagas: number
  byStatus: Record<string, number>
  kills: number
  restarts: number
  reclaims: number
  pgRestart: string
  calls: { calls: number; keys: number; repeated: number; repeatedAfterWorkDone: number }
  invariants: Invariant[]
}

/** The chaos script starts its own PostgreSQL when the server binaries are here; else it needs the test server. */
const canStartCluster = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHAOS, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe.runIf(pgUrl || canStartCluster)('chaos: SIGKILLed workers, a restarted server, flaky services', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sagactl-chaos-test-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('300 sagas end as scripted, nothing lost, every invariant holds', async () => {
    const out = join(dir, 'chaos.json')
    const env: Record<string, string> = pgUrl ? { SAGACTL_TEST_DATABASE_URL: pgUrl } : {}
    const res = await run(['--sagas', '300', '--quick', '--kill-every', '2s', '--out', out], env)
    expect(existsSync(out), `no report written:\n${res.stderr}`).toBe(true)
    const report = JSON.parse(readFileSync(out, 'utf8')) as ChaosReport
    if (!report.pgRestart.startsWith('done')) process.stderr.write(`\n  chaos ran WITHOUT the PostgreSQL restart: ${report.pgRestart}\n`)

    expect(report.invariants.filter((i) => !i.ok)).toEqual([])
    expect(report.invariants.length).toBeGreaterThanOrEqual(10)
    expect(res.code, res.stdout + res.stderr).toBe(0)
    expect(res.stdout).toContain('invariants hold')
    expect(report.sagas).toBe(300)
    // Every kind of ending the scripts ask for actually happened.
    expect(report.byStatus.completed).toBeGreaterThan(0)
    expect(report.byStatus.compensated).toBeGreaterThan(0)
    expect(report.byStatus.suspended ?? 0).toBeGreaterThan(0)
    expect(report.kills).toBeGreaterThan(0)
    expect(report.calls.repeated).toBeGreaterThan(0)
  }, 300_000)
})
