import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { interventionBlock, sagaHeader, stepsTable, timelineOrder } from '../../cli/format.js'
import { color } from '../../cli/render.js'
import { getIntervention, resolveInterventionId } from '../../db/queries/interventions.js'
import { getSaga, getSteps, getSuspensions } from '../../db/queries/sagas.js'
import { NotFoundError } from '../../errors.js'

export default class InterventionShow extends BaseCommand<typeof InterventionShow> {
  static override summary = 'Show an intervention with its saga and step timeline.'
  static override examples = ['<%= config.bin %> intervention show 0193a1b2-9d8e', '<%= config.bin %> intervention show 0193a1b2-9d8e --json']
  static override flags = { ...BaseCommand.readFlags }
  static override args = {
    id: Args.string({ required: true, description: 'Intervention id or unique prefix.' }),
  }

  async run() {
    const db = await this.readDb()
    const id = await resolveInterventionId(db, this.args.id)
    const intervention = await getIntervention(db, id)
    if (!intervention) throw new NotFoundError(`no intervention matches "${this.args.id}"`)
    const [saga, steps] = await Promise.all([getSaga(db, intervention.sagaId), getSteps(db, intervention.sagaId)])
    if (!saga) throw new NotFoundError(`saga ${intervention.sagaId} of intervention ${id} no longer exists`)
    const ordered = timelineOrder(steps, saga)
    if (!this.jsonEnabled()) {
      const now = new Date()
      this.log(interventionBlock(intervention, now))
      this.log('')
      this.log(sagaHeader(saga, now))
      this.log('')
      this.log(ordered.length ? stepsTable(ordered, saga, now, await getSuspensions(db, saga.id)) : color.dim('no steps have run yet'))
      if (intervention.status === 'open') {
        this.log('')
        this.log(color.dim(`resolve: ${this.config.bin} intervention resolve ${id} --action retry|skip|compensate|abort --note "…"`))
      }
    }
    return { intervention, saga, steps: ordered }
  }
}
