import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { textFlag } from '../../cli/flags.js'
import { actionLine, actionTarget, bulkAction, bulkFlagOptions, bulkSelectionFlags, operatorFlags } from '../../cli/bulk.js'
import { shortId } from '../../cli/format.js'
import { getIntervention, openInterventionForSaga, resolveInterventionId } from '../../db/queries/interventions.js'
import { getSaga } from '../../db/queries/sagas.js'
import { refusalFor } from '../../engine/eligibility.js'
import { Engine } from '../../engine/engine.js'
import { currentOperator } from '../../engine/operator.js'
import type { InterventionAction } from '../../engine/types.js'
import { ConflictError, NotFoundError } from '../../errors.js'

const ACTIONS: readonly InterventionAction[] = ['retry', 'skip', 'compensate', 'abort']

export default class InterventionResolve extends BaseCommand<typeof InterventionResolve> {
  static override summary = 'Close an intervention by acting on its suspended saga; or the open interventions of every saga the filters select.'
  static override description =
    'retry: run the failed step again with a fresh retry policy; skip: mark it done by hand and continue; ' +
    'compensate: roll the saga back; abort: mark it failed WITHOUT compensating. ' +
    'The note is recorded on the intervention and in the audit log. Exit 4 when the intervention is already resolved or its saga changed. ' +
    'Bulk form: saga filter flags (--def, --error, --tag, …) instead of an id resolve the open intervention of each suspended saga they select, with the same action and note; sagas with none, or whose state refuses the action, are counted as refused and left alone. It prints how many match, asks before acting (--yes skips), and reports succeeded, refused, changed meanwhile and failed: exit 0 all succeeded, 4 some refused or changed, 1 some failed.'
  static override examples = [
    '<%= config.bin %> intervention resolve 0193ab12-9d8e --action retry --note "payment provider recovered"',
    '<%= config.bin %> intervention resolve 0193ab12-9d8e --action skip --note "refund done by hand, ticket 881"',
    '<%= config.bin %> intervention resolve 0193ab12-9d8e --action compensate --note "customer cancelled" --operator ana --json',
    '<%= config.bin %> intervention resolve --def order-checkout --error "HTTP 503" --action retry --note "payments back after incident 42" --dry-run',
    '<%= config.bin %> intervention resolve --def order-checkout --error "HTTP 503" --action retry --note "payments back after incident 42" --yes --rps 5',
  ]
  static override args = {
    id: Args.string({ description: 'Intervention id or unique prefix; omit it and give saga filter flags for the bulk form.' }),
  }
  static override flags = {
    action: Flags.string({ summary: 'What to do with the saga.', options: [...ACTIONS], required: true }),
    note: textFlag({ summary: 'What you checked or did, for the intervention and the audit log.', required: true }),
    ...operatorFlags,
    ...bulkSelectionFlags,
  }

  async run() {
    const f = this.flags
    const target = actionTarget(this.args.id, f, { bulkOnly: { 'dry-run': f['dry-run'] } })
    const db = await this.db()
    const engine = new Engine(db)
    const action = f.action as InterventionAction
    const ctx = { operator: currentOperator(f.operator), action, note: f.note }
    if (target.kind === 'many') {
      return bulkAction({
        db,
        filter: target.filter,
        verb: `Resolve with ${action} the open interventions of`,
        done: `resolved with ${action}:`,
        eligibility: (s, now) => (s.status === 'suspended' ? refusalFor(action, s, now) : `is ${s.status}: it has no open intervention`),
        ...bulkFlagOptions(f),
        json: this.jsonEnabled(),
        log: (line) => this.log(line),
        act: async (sagaId, expectedRevision) => {
          const open = await openInterventionForSaga(db, sagaId)
          if (!open) throw new ConflictError(`saga ${sagaId} has no open intervention`)
          return engine.resolveIntervention(open.id, { ...ctx, expectedRevision })
        },
      })
    }
    const id = await resolveInterventionId(db, target.id)
    const intervention = await getIntervention(db, id)
    if (!intervention) throw new NotFoundError(`no intervention matches "${target.id}"`)
    const before = await getSaga(db, intervention.sagaId)
    if (!before) throw new NotFoundError(`saga ${intervention.sagaId} of intervention ${id} no longer exists`)
    const after = await engine.resolveIntervention(id, { ...ctx, expectedRevision: before.revision })
    if (!this.jsonEnabled()) this.log(actionLine(`resolved intervention ${shortId(id)}… with ${action}: saga`, before, after))
    return after
  }
}
