import { BaseCommand } from '../../cli/base-command.js'
import { filterFromFlags, pageFlags, sagaFilterFlags } from '../../cli/flags.js'
import { sagaTable } from '../../cli/format.js'
import { listSagas } from '../../db/queries/sagas.js'
import { waitingStates } from '../../engine/participants/controls.js'

export default class SagaList extends BaseCommand<typeof SagaList> {
  static override summary = 'List sagas, newest first.'
  static override description =
    'Filters combine (all must match). --tag and --where are jsonb containment served by GIN indexes: --where input.customer.id=42 matches the number 42 and the text "42" (quote it, input.customer.id=\'"42"\', for the text only). Pages are keyset-paginated: pass the printed "next" id to --after for the following page. Ids can be shortened to any unique prefix in other commands.'
  static override examples = [
    '<%= config.bin %> saga list',
    '<%= config.bin %> saga list --status running,compensating --def order-checkout',
    '<%= config.bin %> saga list --stuck --stuck-after 5m',
    '<%= config.bin %> saga list --failing --since 1h',
    '<%= config.bin %> saga list --status failed --error timeout --json',
    '<%= config.bin %> saga list --key order-1042',
    '<%= config.bin %> saga list --tag region=eu --tag channel=web --status suspended',
    "<%= config.bin %> saga list --where 'input.customer.id=42'",
    '<%= config.bin %> saga list --limit 100 --after 0193a1b2-…',
  ]
  static override flags = { ...sagaFilterFlags, ...pageFlags, ...BaseCommand.readFlags }

  async run() {
    const db = await this.readDb()
    const now = new Date()
    const page = await listSagas(db, filterFromFlags(this.flags, now), { limit: this.flags.limit, after: this.flags.after })
    if (!this.jsonEnabled()) {
      if (page.items.length === 0) {
        this.log(this.flags.after ? 'no more sagas match' : 'no sagas match')
        return page
      }
      this.log(sagaTable(page.items, now, await waitingStates(db, page.items)))
      this.log(`${page.items.length} shown${page.next ? `; more: --after ${page.next}` : ''}`)
    }
    return page
  }
}
