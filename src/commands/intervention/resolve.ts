import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { textFlag } from '../../cli/flags.js'
import { actionLine, operatorFlags } from '../../cli/bulk.js'
import { shortId } from '../../cli/format.js'
import { getIntervention, resolveInterventionId } from '../../db/queries/interventions.js'
import { getSaga } from '../../db/queries/sagas.js'
import { Engine } from '../../engine/engine.js'
import { currentOperator } from '../../engine/operator.js'
import type { InterventionAction } from '../../engine/types.js'
import { NotFoundError } from '../../errors.js'

const ACTIONS: readonly InterventionAction[] = ['retry', 'skip', 'compensate', 'abort']

export default class InterventionResolve extends BaseCommand<typeof InterventionResolve> {
  static override summary = 'Close an intervention by acting on its suspended saga.'
  static override description =
    'retry: run the failed step again with a fresh retry policy; skip: mark it done by hand and continue; ' +
    'compensate: roll the saga back; abort: mark it failed WITHOUT compensating. ' +
    'The note is recorded on the intervention and in the audit log. Exit 4 when the intervention is already resolved or its saga changed.'
  static override examples = [
    '<%= config.bin %> intervention resolve 0193ab12-9d8e --action retry --note "payment provider recovered"',
    '<%= config.bin %> intervention resolve 0193ab12-9d8e --action skip --note "refund done by hand, ticket 881"',
    '<%= config.bin %> intervention resolve 0193ab12-9d8e --action compensate --note "customer cancelled" --operator ana --json',
  ]
  static override args = {
    id: Args.string({ description: 'Intervention id or unique prefix.', required: true }),
  }
  static override flags = {
    action: Flags.string({ summary: 'What to do with the saga.', options: [...ACTIONS], required: true }),
    note: textFlag({ summary: 'What you checked or did, for the intervention and the audit log.', required: true }),
    ...operatorFlags,
  }

  async run() {
    const db = await this.db()
    const id = await resolveInterventionId(db, this.args.id)
    const intervention = await getIntervention(db, id)
    if (!intervention) throw new NotFoundError(`no intervention matches "${this.args.id}"`)
    const before = await getSaga(db, intervention.sagaId)
    if (!before) throw new NotFoundError(`saga ${intervention.sagaId} of intervention ${id} no longer exists`)
    const action = this.flags.action as InterventionAction
    const after = await new Engine(db).resolveIntervention(id, {
      operator: currentOperator(this.flags.operator),
      action,
      note: this.flags.note,
      expectedRevision: before.revision,
    })
    if (!this.jsonEnabled()) this.log(actionLine(`resolved intervention ${shortId(id)}… with ${action}: saga`, before, after))
    return after
  }
}
