// The processes a chaos run keeps alive and keeps killing: `sagactl worker`s (SIGKILLed
// at random and restarted) and `sagactl compensate --batch` passes on a schedule.
import { exited, hasCommand, log, runCli, spawnCli } from '../lib/util.js'

export class Fleet {
  constructor({ count, url, schema, defsDir, concurrency, random }) {
    this.count = count
    this.random = random
    this.args = ['worker', '--concurrency', String(concurrency), '--defs', defsDir, '--lease', '2s', '--poll', '200ms', '--database-url', url, '--schema', schema]
    this.passArgs = hasCommand('compensate')
      ? ['compensate', '--batch', '--limit', '500', '--max-runtime', '10s', '--stuck-after', '3s', '--defs', defsDir, '--json', '--database-url', url, '--schema', schema]
      : null
    this.workers = new Map()
    this.passes = new Set()
    this.timers = []
    this.stopping = false
    this.stats = { kills: 0, restarts: 0, unexpectedExits: 0, passes: 0, passFailures: 0, passErrors: [] }
  }

  start() {
    for (let i = 0; i < this.count; i++) this.workers.set(i, this.spawn(i))
  }

  spawn(slot) {
    const child = spawnCli(this.args)
    child.stderr.on('data', () => {})
    child.stdout.on('data', () => {})
    child.on('exit', (code, signal) => {
      if (this.workers.get(slot) !== child || this.stopping || signal === 'SIGKILL') return
      this.stats.unexpectedExits++
      log(`chaos: worker ${slot} exited by itself (${code ?? signal}); restarting`)
      // A worker started while the server is down exits 9 at once: do not spin.
      this.later(500, () => {
        if (this.workers.get(slot) === child) this.workers.set(slot, this.spawn(slot))
      })
    })
    return child
  }

  later(ms, fn) {
    const t = setTimeout(() => {
      if (!this.stopping) fn()
    }, ms)
    this.timers.push(t)
  }

  /** SIGKILL one worker at random every `everyMs`, and start a new one in its place soon after. */
  killEvery(everyMs) {
    this.timers.push(
      setInterval(() => {
        const slot = Math.floor(this.random() * this.count)
        const victim = this.workers.get(slot)
        if (!victim || this.stopping) return
        victim.kill('SIGKILL')
        this.stats.kills++
        this.later(100 + Math.floor(this.random() * 400), () => {
          // The victim may have been replaced meanwhile (it had exited by itself): a second
          // worker in the slot would be one this fleet never stops.
          if (this.workers.get(slot) !== victim) return
          this.workers.set(slot, this.spawn(slot))
          this.stats.restarts++
        })
      }, everyMs),
    )
  }

  /** A scheduler pass every `everyMs` (one at a time), when the build has the command. */
  passEvery(everyMs) {
    if (!this.passArgs) {
      log('chaos: `sagactl compensate --batch` is not in the build: no scheduler passes')
      return
    }
    this.timers.push(
      setInterval(() => {
        if (this.stopping || this.passes.size > 0) return
        this.pass()
      }, everyMs),
    )
  }

  pass() {
    const run = runCli(this.passArgs, { timeoutMs: 60_000 }).then((r) => {
      this.stats.passes++
      if (r.code !== 0 && r.code !== 6) {
        this.stats.passFailures++
        this.stats.passErrors.push(`exit ${r.code}: ${r.stderr.trim().split('\n').pop()?.slice(0, 200)}`)
      }
    })
    this.passes.add(run)
    run.finally(() => this.passes.delete(run))
    return run
  }

  /** Stops the chaos, runs one last pass (as cron would), then stops the workers with SIGTERM. */
  async stop() {
    this.stopping = true
    for (const t of this.timers) clearTimeout(t)
    await Promise.allSettled([...this.passes])
    if (this.passArgs) await this.pass()
    for (const w of this.workers.values()) w.kill('SIGTERM')
    await Promise.all([...this.workers.values()].map(exited))
  }

  kill() {
    this.stopping = true
    for (const t of this.timers) clearTimeout(t)
    for (const w of this.workers.values()) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL')
  }
}
