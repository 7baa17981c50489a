import { resolve } from 'node:path'
import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base-command.js'
import * as out from '../cli/output.js'
import { durationFlag } from '../cli/flags.js'
import { onStop } from '../cli/stop-signals.js'
import { getDefinition, listDefinitions } from '../db/definitions.js'
import type { Database } from '../db/types.js'
import { missingEnvRefs } from '../engine/env-ref.js'
import { Worker } from '../engine/worker.js'
import { UsageError } from '../errors.js'

/** A definition that names an unset variable would fail every saga it runs: say so before claiming any. */
async function refuseMissingEnv(db: Database): Promise<void> {
  const defs = await Promise.all((await listDefinitions(db)).map((d) => getDefinition(db, d.name)))
  const missing = missingEnvRefs(defs.flatMap((d) => (d ? [d.spec] : [])))
  if (missing.length === 0) return
  const byVariable = new Map<string, string[]>()
  for (const m of missing) byVariable.set(m.variable, [...(byVariable.get(m.variable) ?? []), m.where])
  const list = [...byVariable].map(([v, where]) => `${v} (used by ${where.slice(0, 2).join(', ')}${where.length > 2 ? ', …' : ''})`)
  throw new UsageError(
    `environment variable${list.length > 1 ? 's' : ''} not set: ${list.join(', ')}`,
    "set it in the worker's environment; the definitions refer to it with ${env:NAME}",
  )
}

export default class WorkerCommand extends BaseCommand<typeof WorkerCommand> {
  static override summary = 'Run sagas: a long-running executor.'
  static override description =
    'Claims due sagas in batches (FOR UPDATE SKIP LOCKED), holds each under a lease renewed by heartbeat, runs up to --concurrency at once. Any number of workers on any number of hosts can share one database. SIGTERM or SIGINT: finish the calls in flight, hand the sagas back, exit 0.'
  static override examples = [
    '<%= config.bin %> worker',
    '<%= config.bin %> worker --concurrency 32 --defs ./sagas',
    'SAGACTL_DATABASE_URL=postgres://app@db/app <%= config.bin %> worker --lease 15s',
  ]
  static override flags = {
    ...BaseCommand.listenFlags,
    concurrency: Flags.integer({ char: 'c', summary: 'Sagas advanced at once.', default: 8, min: 1, max: 1000 }),
    defs: Flags.string({ summary: 'Directory that module steps are resolved against.', default: '.' }),
    lease: durationFlag({ summary: 'Lease length; a dead worker\'s sagas are taken over after it.', default: 30_000, defaultHelp: async () => '30s' }),
    'log-every': durationFlag({ summary: 'How often to log the number of completed sagas (compensated, suspended and failed ones are logged one by one).', default: 10_000, defaultHelp: async () => '10s' }),
    poll: durationFlag({ summary: 'Longest sleep between claims when no notification arrives.', default: 1_000, defaultHelp: async () => '1s' }),
  }

  protected override servesEmbedded(): boolean {
    return true
  }

  protected override recoversEmbedded(): boolean {
    return true
  }

  async run() {
    const db = await this.db({ max: Math.min(20, this.flags.concurrency + 4) })
    const quiet = this.jsonEnabled()
    const log = (line: string) => {
      if (!quiet) void out.errLine(`${new Date().toISOString()} ${line}`)
    }
    const worker = new Worker(db, {
      concurrency: this.flags.concurrency,
      defsDir: resolve(this.flags.defs),
      leaseMs: this.flags.lease,
      pollMs: this.flags.poll,
      version: this.config.version,
      log,
      onTransition: (t) => {
        // Completions are counted, not logged one by one: at thousands a second a line each would drown the rest.
        if (t.events.some((e) => e.type === 'saga.completed')) completed++
        const end = t.events.find((e) => e.type === 'saga.compensated' || e.type === 'saga.suspended' || e.type === 'saga.failed')
        if (end) log(`${end.type.slice(5)} ${t.sagaId}${t.saga.reason ? `: ${t.saga.reason}` : ''}`)
      },
    })
    let completed = 0
    let reported = 0
    const summary = setInterval(() => {
      if (completed === reported) return
      log(`completed ${completed - reported} saga(s) in the last ${this.flags['log-every'] / 1000}s (${completed} since start)`)
      reported = completed
    }, this.flags['log-every'])
    summary.unref()
    await refuseMissingEnv(db)
    await worker.start()
    log(`worker ${worker.id} started on ${db.displayUrl} (concurrency ${this.flags.concurrency})`)
    await new Promise<void>((done) => {
      const off = onStop((why) => {
        off()
        log(`stopping (${why}): ${worker.active} saga(s) in flight`)
        done()
      })
    })
    await worker.stop()
    clearInterval(summary)
    const st = worker.stats
    // Claims are not sagas: a saga waiting for a retry is claimed again when it is due.
    log(`stopped: ${completed} saga(s) completed by this worker; ${st.claimed} claim(s) (one per run, retries included), ${st.released} handed back, ${st.lost} lease(s) lost, ${st.errors} error(s)`)
    return { id: worker.id, ...worker.stats }
  }
}
