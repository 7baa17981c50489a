import { Args } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { auditTable, forksTable, interventionBlock, sagaHeader, stepsTable, timelineOrder } from '../../cli/format.js'
import { color } from '../../cli/render.js'
import { forksOf } from '../../db/repairs.js'
import { auditForSaga } from '../../db/audit.js'
import { openInterventionForSaga } from '../../db/queries/interventions.js'
import { getLastEvents, getSaga, getSteps, getSuspensions } from '../../db/queries/sagas.js'
import { waitingStates } from '../../engine/participants/controls.js'
import { NotFoundError } from '../../errors.js'

const LAST_EVENTS = 20

export default class SagaShow extends BaseCommand<typeof SagaShow> {
  static override summary = 'Show one saga: header, step timeline, open intervention, audit trail.'
  static override description = `The id may be any unique prefix. --json adds the last ${LAST_EVENTS} events; the whole history is in "saga events".`
  static override examples = ['<%= config.bin %> saga show 0193a1b2-7c3d', '<%= config.bin %> saga show 0193a1b2-7c3d-7e4f-8a5b-6c7d8e9fa0b1 --json']
  static override flags = { ...BaseCommand.readFlags }
  static override args = {
    id: Args.string({ required: true, description: 'Saga id or unique prefix.' }),
  }

  async run() {
    const { db, id } = await this.sagaReadDb(this.args.id)
    const saga = await getSaga(db, id)
    if (!saga) throw new NotFoundError(`no saga matches "${this.args.id}"`)
    const [steps, intervention, audit, events, forks] = await Promise.all([
      getSteps(db, id),
      openInterventionForSaga(db, id),
      auditForSaga(db, id),
      getLastEvents(db, id, LAST_EVENTS),
      forksOf(db, id),
    ])
    const ordered = timelineOrder(steps, saga)
    if (!this.jsonEnabled()) {
      const now = new Date()
      this.log(sagaHeader(saga, now, await waitingStates(db, [saga])))
      this.log('')
      this.log(ordered.length ? stepsTable(ordered, saga, now, await getSuspensions(db, id)) : color.dim('no steps have run yet'))
      if (intervention) {
        this.log('')
        this.log(color.bold('open intervention'))
        this.log(interventionBlock(intervention, now))
      }
      if (forks.length) {
        this.log('')
        this.log(color.bold('forks'))
        this.log(forksTable(forks, saga.definition, now))
      }
      if (audit.length) {
        this.log('')
        this.log(color.bold('audit trail'))
        this.log(auditTable(audit))
      }
      this.log('')
      this.log(color.dim(`history: ${this.config.bin} saga events ${id}`))
    }
    const waiting = saga.waitingFor ? { participant: saga.waitingFor, state: (await waitingStates(db, [saga])).get(saga.waitingFor) ?? null } : null
    return { saga, steps: ordered, intervention, audit, events, waiting, forks }
  }
}
