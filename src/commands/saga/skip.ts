import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { textFlag } from '../../cli/flags.js'
import { actionLine, findSaga, operatorFlags } from '../../cli/bulk.js'
import { readJsonInput } from '../../cli/input.js'
import { Engine } from '../../engine/engine.js'
import { currentOperator } from '../../engine/operator.js'

export default class SagaSkip extends BaseCommand<typeof SagaSkip> {
  static override summary = 'Mark the failed step of a saga done by hand, then continue.'
  static override description =
    'For a step an operator finished outside the saga (a payment taken by phone, a compensation done in the back office). ' +
    '--step must name the failed step, as a check that you are skipping the one you think. ' +
    'The saga continues with the next step (or the next compensation); the skipped step is never compensated. ' +
    '--output records what the step would have returned (JSON or @file): later steps read it in results, and the audit row keeps it (or its hash past 4 KiB). ' +
    'Exit 4 when the saga has no failed step or changed while you looked.'
  static override examples = [
    '<%= config.bin %> saga skip 0193ab12 --step process-payment --reason "charged by phone, ticket 881"',
    '<%= config.bin %> saga skip 0193ab12-7c3d --step reserve-inventory --reason "released by hand in the WMS" --operator ana --json',
    '<%= config.bin %> saga skip key:order-1042 --step process-payment --output @payment.json --reason "charged by phone, ticket 881"',
  ]
  static override args = {
    id: Args.string({ description: 'Saga id, unique prefix or key:<start key>.', required: true }),
  }
  static override flags = {
    step: Flags.string({ summary: 'The failed step to mark done.', required: true }),
    reason: textFlag({ summary: 'Why, for the audit log.', required: true }),
    output: Flags.string({ summary: "The skipped action's output for later steps (in results): JSON, or @file." }),
    ...operatorFlags,
  }

  async run() {
    const output = this.flags.output === undefined ? undefined : readJsonInput(this.flags.output, '--output')
    const db = await this.db()
    const engine = new Engine(db)
    const before = await findSaga(db, this.args.id)
    const after = await engine.skip(before.id, {
      operator: currentOperator(this.flags.operator),
      step: this.flags.step,
      reason: this.flags.reason,
      ...(output === undefined ? {} : { output }),
      expectedRevision: before.revision,
    })
    if (!this.jsonEnabled()) this.log(actionLine(`skipped ${this.flags.step} of`, before, after))
    return after
  }
}
