import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { textFlag } from '../../cli/flags.js'
import { actionTarget, bulkSelectionFlags, operatorFlags, sagaAction } from '../../cli/bulk.js'
import { Engine } from '../../engine/engine.js'
import { abortRefusal } from '../../engine/eligibility.js'
import { currentOperator } from '../../engine/operator.js'
import { UsageError } from '../../errors.js'

export default class SagaAbort extends BaseCommand<typeof SagaAbort> {
  static override summary = 'Mark a saga failed WITHOUT compensating it, or every saga the filters select.'
  static override description =
    'Nothing is rolled back: steps that succeeded stay done. To undo them use "saga compensate". --force is required to say you mean it. ' +
    'Exit 4 when the saga is already finished or changed while you looked. ' +
    'Bulk form: filter flags instead of an id; prints how many match, asks before acting (--yes skips), and reports succeeded, refused (the state does not allow it), changed meanwhile and failed: exit 0 all succeeded, 4 some refused or changed, 1 some failed. Sagas it would be refused on are named before the question and left alone.'
  static override examples = [
    '<%= config.bin %> saga abort 0193ab12 --reason "duplicate order, refunded by hand" --force',
    '<%= config.bin %> saga abort --status suspended --def order-checkout --dry-run',
    '<%= config.bin %> saga abort --status suspended --def order-checkout --error "card expired" --reason "cleanup after incident 42" --force --yes',
  ]
  static override args = {
    id: Args.string({ description: 'Saga id or unique prefix; omit it and give filter flags for the bulk form.' }),
  }
  static override flags = {
    reason: textFlag({ summary: 'Why, for the audit log and the saga.', required: true }),
    force: Flags.boolean({ summary: 'Confirm that the saga is failed without compensating.' }),
    ...operatorFlags,
    ...bulkSelectionFlags,
  }

  async run() {
    const f = this.flags
    const target = actionTarget(this.args.id, f, { bulkOnly: { 'dry-run': f['dry-run'] } })
    if (!f.force && !f['dry-run']) {
      throw new UsageError('abort marks the saga failed WITHOUT compensating: add --force if that is what you want', 'use "saga compensate" to roll it back instead')
    }
    const db = await this.db()
    const engine = new Engine(db)
    const ctx = { operator: currentOperator(f.operator), reason: f.reason }
    return sagaAction({
      db,
      target,
      flags: f,
      verb: 'Abort',
      done: 'aborted',
      warning: 'without compensating them',
      eligibility: (s) => abortRefusal(s),
      json: this.jsonEnabled(),
      log: (line) => this.log(line),
      act: (id, expectedRevision) => engine.abort(id, { ...ctx, expectedRevision }),
    })
  }
}
