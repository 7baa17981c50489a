import { Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { MAX_LIMIT, periodFlag } from '../../cli/flags.js'
import { shortIds, truncate } from '../../cli/format.js'
import { isoOrEmpty, table } from '../../cli/render.js'
import { auditSagaId, listAuditEntries } from '../../db/queries/audit.js'
import { UsageError } from '../../errors.js'

export default class AuditList extends BaseCommand<typeof AuditList> {
  static override summary = 'List what operators did, across sagas, newest first.'
  static override description =
    'Every operator action is audited: saga retry, skip, compensate, abort, delete and the rest, intervention resolve, def apply, participant pause and resume, token create and revoke. ' +
    '--action takes a full name (saga.retry), a family (saga: every saga action) or a verb (retry). ' +
    '--saga takes a saga id, prefix or key:<start key>; a full id or the key of a deleted saga still finds its rows, since the audit log outlives the sagas it names. ' +
    'Pages are keyset-paginated: pass the printed "next" to --after.'
  static override examples = [
    '<%= config.bin %> audit list --since 1h',
    '<%= config.bin %> audit list --operator ana --action compensate',
    '<%= config.bin %> audit list --saga key:order-1042 --json',
    '<%= config.bin %> audit list --action saga.delete --since 30d --limit 200',
  ]
  static override flags = {
    since: periodFlag({ summary: 'Only actions in this last period, e.g. 1h or 7d.' }),
    operator: Flags.string({ summary: 'Only actions by this operator.' }),
    action: Flags.string({ summary: 'Only this action: saga.retry, a family (saga) or a verb (retry).' }),
    saga: Flags.string({ summary: 'Only actions on this saga (id, unique prefix or key:<start key>).' }),
    limit: Flags.integer({ summary: `Rows per page (at most ${MAX_LIMIT}).`, default: 50, min: 1, max: MAX_LIMIT }),
    after: Flags.string({ summary: 'Continue after this audit id: the "next" cursor of the previous page.' }),
    ...BaseCommand.readFlags,
  }

  async run() {
    const f = this.flags
    const after = f.after === undefined ? undefined : Number(f.after)
    if (after !== undefined && (!Number.isSafeInteger(after) || after < 1)) throw new UsageError(`invalid cursor "${f.after}": --after takes the audit id printed as "next"`)
    if (f.action !== undefined && f.action.trim() === '') throw new UsageError('--action must not be empty')
    const db = await this.readDb()
    const page = await listAuditEntries(db, {
      since: f.since === undefined ? undefined : new Date(Date.now() - f.since),
      operator: f.operator,
      action: f.action,
      sagaId: f.saga === undefined ? undefined : await auditSagaId(db, f.saga),
      limit: f.limit,
      after,
    })
    if (!this.jsonEnabled()) {
      if (page.items.length === 0) {
        this.log(after ? 'no more audit rows match' : 'no audit rows match')
        return page
      }
      const ids = shortIds(page.items.map((a) => a.sagaId).filter((id): id is string => id !== null))
      this.log(
        table(
          ['at', 'operator', 'action', 'target', 'reason'],
          page.items.map((a) => [isoOrEmpty(a.at), a.operator, a.action, a.sagaId ? `saga ${ids.get(a.sagaId)}` : truncate(a.target, 40), truncate(a.reason, 60)]),
        ),
      )
      this.log(`${page.items.length} shown${page.next ? `; more: --after ${page.next}` : ''}`)
    }
    return page
  }
}
