import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  input?: string
  timeoutMs?: number
}

/** Runs the built CLI as a user would: a separate process, asserted on exit code and output. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, opts)
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += d))
    child.stderr!.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    if (opts.input !== undefined) child.stdin!.end(opts.input)
    else child.stdin!.end()
  })
}

export function spawnCli(args: string[], opts: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? process.cwd(),
    env: { ...cleanEnv(), NO_COLOR: '1', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
}

export interface ServeProcess {
  child: ChildProcess
  url: string
  /** Its stderr so far. */
  log: () => string
}

/** Starts `sagactl serve --port 0` and resolves to its address once it listens. */
export function startServe(args: string[], opts: CliOptions = {}): Promise<ServeProcess> {
  const child = spawnCli(['serve', '--port', '0', ...args], opts)
  let log = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sagactl serve did not start in 30 s:\n${log}`)), 30_000)
    child.stderr!.on('data', (d) => {
      log += d
      const url = /API on (http:\/\/\S+)/.exec(log)?.[1]
      if (!url) return
      clearTimeout(timer)
      resolve({ child, url, log: () => log })
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      reject(new Error(`sagactl serve exited ${code}:\n${log}`))
    })
  })
}

/** The child must not pick up the developer's own database settings. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.SAGACTL_DATABASE_URL
  delete env.DATABASE_URL
  delete env.SAGACTL_CONFIG
  delete env.DEBUG
  // Users do not run with NODE_ENV=test; oclif would add development warnings.
  delete env.NODE_ENV
  return env
}
