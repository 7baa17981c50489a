import { Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { filterFromFlags, sagaFilterFlags } from '../../cli/flags.js'
import { truncate } from '../../cli/format.js'
import { color, status, table } from '../../cli/render.js'
import { COUNT_GROUPINGS, countSagasBy, type CountGrouping } from '../../db/queries/sagas.js'

const HEADS: Record<CountGrouping, string> = { status: 'status', definition: 'definition', step: 'step', error: 'error' }
const NONE: Record<CountGrouping, string> = { status: '', definition: '', step: '(no step)', error: '(no error)' }

export default class SagaCount extends BaseCommand<typeof SagaCount> {
  static override summary = 'Count the sagas the filters select, by status, definition, step or error.'
  static override description =
    'Takes the filters of "saga list" and counts in the database, without reading the sagas. ' +
    '--by step groups by the step a saga is running or compensating, or stopped at (suspended, failed); ' +
    '--by error by the reason a saga is compensating, suspended or failed, else its last error, with ids and numbers replaced as in "stats" ("HTTP 503 after 3 attempts" and "after 5 attempts" are one group).'
  static override examples = [
    '<%= config.bin %> saga count',
    '<%= config.bin %> saga count --def order-checkout --since 1h',
    '<%= config.bin %> saga count --status suspended --by step',
    '<%= config.bin %> saga count --failing --by error --json',
    '<%= config.bin %> saga count --tag region=eu --by definition',
  ]
  static override flags = {
    by: Flags.string({ summary: 'What to group by.', options: [...COUNT_GROUPINGS], default: 'status' }),
    ...sagaFilterFlags,
    ...BaseCommand.readFlags,
  }

  async run() {
    const db = await this.readDb()
    const by = this.flags.by as CountGrouping
    const counts = await countSagasBy(db, filterFromFlags(this.flags), by)
    if (!this.jsonEnabled()) {
      if (counts.total === 0) this.log('no sagas match')
      else {
        const label = (k: string | null) => (k === null ? color.dim(NONE[by]) : by === 'status' ? status(k) : truncate(k, 100))
        this.log(table([HEADS[by], 'sagas'], counts.groups.map((g) => [label(g.key), g.count.toLocaleString('en-US')])))
        this.log(`${counts.total.toLocaleString('en-US')} in all`)
      }
    }
    return counts
  }
}
