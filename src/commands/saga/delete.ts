import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { findSaga, operatorFlags } from '../../cli/bulk.js'
import { textFlag } from '../../cli/flags.js'
import { status } from '../../cli/render.js'
import { deleteSaga } from '../../engine/delete.js'
import { currentOperator } from '../../engine/operator.js'
import { UsageError } from '../../errors.js'

export default class SagaDelete extends BaseCommand<typeof SagaDelete> {
  static override summary = 'Delete a finished saga, with its steps, events and interventions.'
  static override description =
    'Only a completed, compensated or failed saga; any other is refused with exit 4 and nothing is changed. ' +
    'The audit row of the delete is kept (with the saga\'s definition, status, key and tags), and so are the audit rows of earlier actions on it. ' +
    'Its start key stays reserved: starting a saga with that key again is refused with exit 4 (SQLSTATE SG004 from start_saga()), naming the deleted saga, rather than starting a second one. ' +
    '--force is required to say you mean it: a delete cannot be undone.'
  static override examples = [
    '<%= config.bin %> saga delete 0193ab12 --force --reason "test order placed in production"',
    '<%= config.bin %> saga delete key:order-1042 --force --reason "GDPR erasure request 77" --operator ana --json',
  ]
  static override args = {
    id: Args.string({ description: 'Saga id, unique prefix or key:<start key>.', required: true }),
  }
  static override flags = {
    reason: textFlag({ summary: 'Why, for the audit log.', required: true }),
    force: Flags.boolean({ summary: 'Confirm the delete: it cannot be undone.' }),
    ...operatorFlags,
  }

  async run() {
    if (!this.flags.force) throw new UsageError('a delete cannot be undone: add --force if that is what you want')
    const db = await this.db()
    const before = await findSaga(db, this.args.id)
    const deleted = await deleteSaga(db, before.id, {
      operator: currentOperator(this.flags.operator),
      reason: this.flags.reason,
      expectedRevision: before.revision,
    })
    if (!this.jsonEnabled()) {
      this.log(`deleted saga ${deleted.id} (${deleted.definition}@${deleted.version}, ${status(deleted.status)})${deleted.key ? `; key "${deleted.key}" stays reserved` : ''}`)
    }
    return deleted
  }
}
