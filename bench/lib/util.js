// Shared pieces of the benchmark and chaos scripts: the built CLI, statistics, CPU
// accounting from /proc, and the SQL that fills tables in bulk.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = `${ROOT}bin/run.js`
export const BENCH = `${ROOT}bench/`
export const RESULTS = `${ROOT}bench/results/`

export function requireBuild() {
  if (!existsSync(`${ROOT}dist/engine/worker.js`) || !existsSync(`${ROOT}oclif.manifest.json`)) {
    throw new Error('dist/ is missing: run `npm run build` first')
  }
}

/** Whether the built CLI has a command, from the oclif manifest the build writes. */
export function hasCommand(id) {
  try {
    const manifest = JSON.parse(readFileSync(`${ROOT}oclif.manifest.json`, 'utf8'))
    return Boolean(manifest.commands?.[id])
  } catch {
    return false
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export function median(xs) {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Nearest-rank percentile. */
export function percentile(xs, p) {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

export const round = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(digits)))

/** The child must not pick up the developer's database settings. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env, NO_COLOR: '1', ...extra }
  delete env.SAGACTL_DATABASE_URL
  delete env.DATABASE_URL
  delete env.SAGACTL_CONFIG
  delete env.DEBUG
  return env
}

/** Spawns the built CLI; `nodeArgs` go before the script (e.g. --cpu-prof). */
export function spawnCli(args, { env, nodeArgs = [], stdio = ['ignore', 'pipe', 'pipe'], cwd = ROOT } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { cwd, env: cleanEnv(env), stdio })
  // Always drain the pipes (keeping a tail for error reports): writes to a full stdio pipe
  // block a Node process, so an unread pipe would stall a worker for good.
  child.outputTail = ''
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (d) => (child.outputTail = (child.outputTail + d).slice(-8000)))
  }
  return child
}

/** Runs the built CLI to its end: exit code, output, wall time in ms. */
export function runCli(args, opts = {}) {
  return runProcess(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args], opts)
}

export function runProcess(cmd, args, { env, cwd = ROOT, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(cmd, args, { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: performance.now() - t0 })
    })
  })
}

export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((r) => child.once('exit', (code) => r(code)))
}

const TICK_MS = 10 // USER_HZ is 100 on Linux

/** CPU ms a live process has used (user + system), or null when it is gone. */
export function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) * TICK_MS
  } catch {
    return null
  }
}

/**
 * CPU ms of a postmaster and all its backends, including those already exited (their
 * time is added to the parent's cutime/cstime when it reaps them).
 */
export function clusterCpuMs(postmasterPid) {
  let total = 0
  try {
    const f = readFileSync(`/proc/${postmasterPid}/stat`, 'utf8').split(') ')[1].split(' ')
    total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS
  } catch {
    return null
  }
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')
      if (Number(f[1]) === postmasterPid) total += (Number(f[11]) + Number(f[12])) * TICK_MS
    } catch {
      // exited meanwhile: counted in the parent's cutime once reaped
    }
  }
  return total
}

/** Peak resident memory (VmHWM) of a live process, in MiB. */
export function peakRssMiB(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

export function machine() {
  const c = cpus()
  return {
    cores: c.length,
    cpu: c[0]?.model ?? 'unknown',
    ramGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  }
}

export async function postgresInfo(url) {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const v = await c.query('SHOW server_version')
    const s = await c.query(`SELECT name, setting, unit FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level')`)
    const settings = Object.fromEntries(s.rows.map((r) => [r.name, r.name === 'shared_buffers' ? `${(Number(r.setting) * 8) / 1024} MB` : r.setting]))
    return { version: v.rows[0].server_version, url: url.replace(/\/\/([^:@/]+):[^@]+@/, '//$1:***@'), ...settings }
  } finally {
    await c.end()
  }
}

/** Runs `fn(client)` on a fresh connection with search_path set to `schema`. */
export async function withClient(url, schema, fn) {
  const c = new pg.Client({ connectionString: url, options: schema ? `-c search_path="${schema}",public` : undefined })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end().catch(() => {})
  }
}

/**
 * A time-ordered UUID (v7 layout) from a millisecond timestamp expression and a row
 * number, for bulk inserts: `ms` and `g` are SQL expressions.
 */
export function uuidV7Sql(ms, g) {
  return `(lpad(to_hex(${ms}), 12, '0') || '7' || substr(md5(${g}::text), 1, 3) || '8' || substr(md5(${g}::text || 'x'), 1, 15))::uuid`
}

export async function waitUntil(fn, { timeoutMs = 60_000, everyMs = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`${what} not reached within ${Math.round(timeoutMs / 1000)} s`)
    await sleep(everyMs)
  }
}

export function log(line) {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
}
