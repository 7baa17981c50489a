import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { EVENT_HEAD, eventCells, eventLine } from '../../cli/format.js'
import * as out from '../../cli/output.js'
import { table } from '../../cli/render.js'
import { getEvents, getSaga } from '../../db/queries/sagas.js'
import type { Database } from '../../db/types.js'
import { errorLine } from '../../errors.js'
import { TERMINAL_STATUSES, type SagaEvent } from '../../engine/types.js'
import { noticeMentions } from '../../engine/wait.js'

const POLL_MS = 2000
const BATCH = 500

export default class SagaEvents extends BaseCommand<typeof SagaEvents> {
  static override summary = "Print a saga's history; --follow streams new events."
  static override description =
    'Events are in commit order. --follow prints the history, then each new event as it is committed (NDJSON with --json: one event per line), and stops by itself once the saga has finished, or on Ctrl-C. ' +
    'With a replica (--read-database-url) the events are read there and notifications come from the primary (or --listen-database-url); a saga the replica does not have yet is read from the primary. ' +
    'When notifications do not arrive (a test NOTIFY at start gets no answer) a notice on stderr says so and new events come by polling every 2 s.'
  static override examples = [
    '<%= config.bin %> saga events 0193a1b2-7c3d',
    '<%= config.bin %> saga events 0193a1b2-7c3d --follow',
    '<%= config.bin %> saga events 0193a1b2-7c3d --follow --json | jq -c .type',
  ]
  static override args = {
    id: Args.string({ required: true, description: 'Saga id or unique prefix.' }),
  }
  static override flags = {
    ...BaseCommand.readFlags,
    ...BaseCommand.listenFlags,
    follow: Flags.boolean({ char: 'f', summary: 'Keep printing new events until the saga finishes.' }),
    limit: Flags.integer({ summary: 'Events per page (without --follow).', default: 1000, min: 1, max: 10_000 }),
    after: Flags.integer({ summary: 'Start after this event id: the "next" cursor of the previous page.', min: 0 }),
  }

  /** Following a saga can last long: other commands meanwhile go through this process. */
  protected override servesEmbedded(): boolean {
    return Boolean(this.flags.follow)
  }

  async run() {
    const { db, id } = await this.sagaReadDb(this.args.id)
    if (this.flags.follow) {
      // NOTIFY is not replicated: a standby never delivers it, so the subscription is on the primary.
      await this.follow(db, await this.db(), id)
      return undefined
    }
    const rows = await getEvents(db, id, { afterId: this.flags.after, limit: this.flags.limit + 1 })
    const items = rows.slice(0, this.flags.limit)
    const next = rows.length > this.flags.limit ? String(items[items.length - 1]!.id) : null
    if (!this.jsonEnabled()) {
      this.log(items.length ? table(EVENT_HEAD, items.map(eventCells)) : 'no events')
      if (next) this.log(`${items.length} shown; more: --after ${next}`)
    }
    return { items, next }
  }

  /** Waits while the reader is behind, so a slow pipe holds the follow back instead of memory growing. */
  private print(e: SagaEvent): Promise<void> {
    return this.jsonEnabled() ? out.json(e, { compact: true }) : out.line(process.stdout, eventLine(e))
  }

  /**
   * Woken by NOTIFY for this saga, and by a poll in case notifications are lost (a
   * dropped connection, a pooler that does not pass them on). The saga's status is read
   * before its events: a transition commits with its events, so once a terminal status
   * is seen, the events read after it are the last ones.
   */
  private follow(db: Database, primary: Database, sagaId: string): Promise<void> {
    if (!this.jsonEnabled()) process.stderr.write(`following saga ${sagaId} (Ctrl-C to stop)\n`)
    let last = this.flags.after ?? 0
    return new Promise<void>((resolve, reject) => {
      let stopped = false
      let busy = false
      let again = false
      let failure: unknown
      let unlisten: (() => Promise<void>) | undefined
      const timer = setInterval(() => void pump(), POLL_MS)
      const finish = () => {
        clearInterval(timer)
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        const done = unlisten ? unlisten() : Promise.resolve()
        unlisten = undefined
        void done.then(() => (failure === undefined ? resolve() : reject(failure)))
      }
      const stop = () => {
        if (stopped) return
        stopped = true
        if (!busy) finish()
      }
      const pump = async (): Promise<void> => {
        if (stopped) return
        if (busy) {
          again = true
          return
        }
        busy = true
        try {
          do {
            again = false
            const saga = await getSaga(db, sagaId)
            for (;;) {
              const batch = await getEvents(db, sagaId, { afterId: last, limit: BATCH })
              for (const e of batch) {
                await this.print(e)
                last = e.id
              }
              if (batch.length < BATCH) break
            }
            if (!saga || TERMINAL_STATUSES.includes(saga.status)) stopped = true
          } while (again && !stopped)
        } catch (err) {
          failure = err
          stopped = true
        } finally {
          busy = false
          if (stopped) finish()
        }
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      primary
        .listen((payload) => {
          if (noticeMentions(payload, sagaId)) void pump()
        })
        .catch((err: unknown) => {
          process.stderr.write(`notice: live updates unavailable (${errorLine(err)}); polling every ${POLL_MS / 1000}s\n`)
          return undefined
        })
        .then((off) => {
          if (!off) return
          if (stopped && !busy) void off()
          else unlisten = off
        })
        .finally(() => void pump())
    })
  }
}
