import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { actionTarget, bulkSelectionFlags, operatorFlags, sagaAction } from '../../cli/bulk.js'
import { Engine } from '../../engine/engine.js'
import { retryRefusal } from '../../engine/eligibility.js'
import { currentOperator } from '../../engine/operator.js'

export default class SagaRetry extends BaseCommand<typeof SagaRetry> {
  static override summary = 'Re-run the failed action or compensation of a saga now, or of every saga the filters select.'
  static override description =
    'A suspended saga resumes at its failed step with a fresh retry policy, resolving its open intervention; a failing saga waiting for its next attempt tries now. ' +
    'Exit 4 when the saga is not suspended or failing, or changed while you looked. ' +
    'Bulk form: filter flags instead of an id; prints how many match, asks before acting (--yes skips), and reports succeeded, refused (the state does not allow it), changed meanwhile and failed: exit 0 all succeeded, 4 some refused or changed, 1 some failed. Sagas it would be refused on are named before the question and left alone.'
  static override examples = [
    '<%= config.bin %> saga retry 0193ab12',
    '<%= config.bin %> saga retry 0193ab12-7c3d --step process-payment --reason "payment service back up"',
    '<%= config.bin %> saga retry --status suspended --def order-checkout --dry-run',
    '<%= config.bin %> saga retry --failing --error "HTTP 503" --since 1h --yes --rps 20',
  ]
  static override args = {
    id: Args.string({ description: 'Saga id or unique prefix; omit it and give filter flags for the bulk form.' }),
  }
  static override flags = {
    step: Flags.string({ summary: 'The failed step, as a check: refused if the saga failed at another step.' }),
    reason: Flags.string({ summary: 'Why, for the audit log.' }),
    ...operatorFlags,
    ...bulkSelectionFlags,
  }

  async run() {
    const f = this.flags
    const target = actionTarget(this.args.id, f, { singleOnly: { step: f.step }, bulkOnly: { 'dry-run': f['dry-run'] } })
    const db = await this.db()
    const engine = new Engine(db)
    const ctx = { operator: currentOperator(f.operator), reason: f.reason }
    return sagaAction({
      db,
      target,
      flags: f,
      verb: 'Retry',
      done: 'retried',
      eligibility: (s, now) => retryRefusal(s, now),
      json: this.jsonEnabled(),
      log: (line) => this.log(line),
      // --step is refused in the bulk form, so it is only ever set for one saga.
      act: (id, expectedRevision) => engine.retry(id, { ...ctx, step: f.step, expectedRevision }),
    })
  }
}
