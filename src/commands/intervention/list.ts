import { Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { pageFlags } from '../../cli/flags.js'
import { age, shortIds, truncate } from '../../cli/format.js'
import { status, table } from '../../cli/render.js'
import { INTERVENTION_STATUS_FILTERS, listInterventions } from '../../db/queries/interventions.js'

export default class InterventionList extends BaseCommand<typeof InterventionList> {
  static override summary = 'List the manual-intervention queue, newest first.'
  static override description =
    'Open interventions by default: sagas suspended until an operator decides. Resolve one with "intervention resolve <id> --action retry|skip|compensate|abort".'
  static override examples = [
    '<%= config.bin %> intervention list',
    '<%= config.bin %> intervention list --def order-checkout',
    '<%= config.bin %> intervention list --status all --limit 20 --json',
  ]
  static override flags = {
    ...BaseCommand.readFlags,
    status: Flags.string({ summary: 'Which interventions.', options: [...INTERVENTION_STATUS_FILTERS], default: 'open' }),
    def: Flags.string({ summary: 'Only interventions on sagas of this definition.' }),
    ...pageFlags,
  }

  async run() {
    const db = await this.readDb()
    const now = new Date()
    const page = await listInterventions(db, {
      status: this.flags.status as (typeof INTERVENTION_STATUS_FILTERS)[number],
      definition: this.flags.def,
      limit: this.flags.limit,
      after: this.flags.after,
    })
    if (!this.jsonEnabled()) {
      if (page.items.length === 0) {
        this.log(this.flags.status === 'open' ? 'no open interventions' : 'no interventions match')
        return page
      }
      const ids = shortIds(page.items.map((i) => i.id))
      const sagaIds = shortIds(page.items.map((i) => i.sagaId))
      this.log(
        table(
          ['id', 'status', 'saga', 'definition', 'step', 'reason', 'opened', 'action'],
          page.items.map((i) => [
            ids.get(i.id),
            status(i.status),
            sagaIds.get(i.sagaId),
            `${i.definition}@${i.version}`,
            i.step ? `${i.step}${i.phase === 'compensation' ? ' (comp.)' : ''}` : '',
            truncate(i.reason, 50),
            age(i.createdAt, now),
            i.action ?? '',
          ]),
        ),
      )
      this.log(`${page.items.length} shown${page.next ? `; more: --after ${page.next}` : ''}`)
    }
    return page
  }
}
