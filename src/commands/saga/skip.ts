import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { textFlag } from '../../cli/flags.js'
import { actionLine, actionTarget, bulkAction, bulkFlagOptions, bulkSelectionFlags, findSaga, operatorFlags } from '../../cli/bulk.js'
import { readJsonInput } from '../../cli/input.js'
import { Engine } from '../../engine/engine.js'
import { skipRefusal } from '../../engine/eligibility.js'
import { currentOperator } from '../../engine/operator.js'

export default class SagaSkip extends BaseCommand<typeof SagaSkip> {
  static override summary = 'Mark the failed step of a saga done by hand, then continue; or of every saga the filters select.'
  static override description =
    'For a step an operator finished outside the saga (a payment taken by phone, a compensation done in the back office). ' +
    '--step must name the failed step, as a check that you are skipping the one you think. ' +
    'The saga continues with the next step (or the next compensation); the skipped step is never compensated. ' +
    '--output records what the step would have returned (JSON or @file): later steps read it in results, and the audit row keeps it (or its hash past 4 KiB). ' +
    'Exit 4 when the saga has no failed step or changed while you looked. ' +
    'Bulk form: filter flags instead of an id; --step is then the check on each saga (one failed at another step is refused and left alone). It prints how many match, asks before acting (--yes skips), and reports succeeded, refused (the state does not allow it), changed meanwhile and failed: exit 0 all succeeded, 4 some refused or changed, 1 some failed. --output needs an id.'
  static override examples = [
    '<%= config.bin %> saga skip 0193ab12 --step process-payment --reason "charged by phone, ticket 881"',
    '<%= config.bin %> saga skip 0193ab12-7c3d --step reserve-inventory --reason "released by hand in the WMS" --operator ana --json',
    '<%= config.bin %> saga skip key:order-1042 --step process-payment --output @payment.json --reason "charged by phone, ticket 881"',
    '<%= config.bin %> saga skip --status suspended --def order-checkout --step send-receipt --reason "mail relay down, receipts resent in batch" --dry-run',
    '<%= config.bin %> saga skip --status suspended --def order-checkout --step send-receipt --reason "mail relay down, receipts resent in batch" --yes --rps 10',
  ]
  static override args = {
    id: Args.string({ description: 'Saga id, unique prefix or key:<start key>; omit it and give filter flags for the bulk form.' }),
  }
  static override flags = {
    step: Flags.string({ summary: 'The failed step to mark done.', required: true }),
    reason: textFlag({ summary: 'Why, for the audit log.', required: true }),
    output: Flags.string({ summary: "The skipped action's output for later steps (in results): JSON, or @file." }),
    ...operatorFlags,
    ...bulkSelectionFlags,
  }

  async run() {
    const f = this.flags
    const target = actionTarget(this.args.id, f, { singleOnly: { output: f.output }, bulkOnly: { 'dry-run': f['dry-run'] } })
    const output = f.output === undefined ? undefined : readJsonInput(f.output, '--output')
    const db = await this.db()
    const engine = new Engine(db)
    const ctx = { operator: currentOperator(f.operator), step: f.step, reason: f.reason }
    if (target.kind === 'many') {
      return bulkAction({
        db,
        filter: target.filter,
        verb: `Skip ${f.step} of`,
        done: `skipped ${f.step} on`,
        eligibility: (s, now) => skipRefusal(s, now) ?? (s.currentStep === f.step ? null : `is stopped at step ${s.currentStep ?? '(none)'}, not ${f.step}`),
        ...bulkFlagOptions(f),
        json: this.jsonEnabled(),
        log: (line) => this.log(line),
        act: (id, expectedRevision) => engine.skip(id, { ...ctx, expectedRevision }),
      })
    }
    const before = await findSaga(db, target.id)
    const after = await engine.skip(before.id, { ...ctx, ...(output === undefined ? {} : { output }), expectedRevision: before.revision })
    if (!this.jsonEnabled()) this.log(actionLine(`skipped ${f.step} of`, before, after))
    return after
  }
}
