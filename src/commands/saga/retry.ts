import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { actionLine, actionTarget, bulkSelectionFlags, findSaga, operatorFlags, sagaAction } from '../../cli/bulk.js'
import { textFlag } from '../../cli/flags.js'
import { readJsonInput } from '../../cli/input.js'
import { rerunPlanText } from '../../cli/repair-format.js'
import { retryRefusal } from '../../engine/eligibility.js'
import { Engine } from '../../engine/engine.js'
import { currentOperator } from '../../engine/operator.js'
import { rerunFromStep, rerunPlan } from '../../engine/rerun.js'
import { ExitCode, UsageError } from '../../errors.js'

export default class SagaRetry extends BaseCommand<typeof SagaRetry> {
  static override summary = 'Re-run the failed action or compensation of a saga now, rerun it from a step, or retry every saga the filters select.'
  static override description =
    'A suspended saga resumes at its failed step with a fresh retry policy, resolving its open intervention; a failing saga waiting for its next attempt tries now. ' +
    '--input replaces the saga input first (the audit row keeps the old and the new value, or their hashes past 4 KiB). ' +
    '--from-step s runs s and every step after it again, with fresh attempts and idempotency keys ending in :rerun-<n> so services see new requests; the steps before s keep their outputs. ' +
    'Allowed on suspended, failing and completed sagas (a completed one goes back to running); --dry-run prints which steps run again and which keep their output, and says when it would be refused. ' +
    'Exit 4 when the saga is not in a state that allows it, or changed while you looked. ' +
    'Bulk form: filter flags instead of an id; prints how many match, asks before acting (--yes skips), and reports succeeded, refused (the state does not allow it), changed meanwhile and failed: exit 0 all succeeded, 4 some refused or changed, 1 some failed. Sagas it would be refused on are named before the question and left alone.'
  static override examples = [
    '<%= config.bin %> saga retry 0193ab12',
    '<%= config.bin %> saga retry 0193ab12-7c3d --step process-payment --reason "payment service back up"',
    '<%= config.bin %> saga retry key:order-1042 --from-step reserve-inventory --dry-run',
    '<%= config.bin %> saga retry key:order-1042 --from-step reserve-inventory --reason "warehouse moved"',
    '<%= config.bin %> saga retry 0193ab12 --input @fixed.json --reason "customer id was mistyped"',
    '<%= config.bin %> saga retry --status suspended --def order-checkout --dry-run',
    '<%= config.bin %> saga retry --failing --error "HTTP 503" --since 1h --yes --rps 20',
  ]
  static override args = {
    id: Args.string({ description: 'Saga id, unique prefix or key:<start key>; omit it and give filter flags for the bulk form.' }),
  }
  static override flags = {
    step: Flags.string({ summary: 'The failed step, as a check: refused if the saga failed at another step.' }),
    'from-step': Flags.string({ summary: 'Run this step and every step after it again; the steps before it keep their outputs.' }),
    input: Flags.string({ char: 'i', summary: 'Replace the saga input before it resumes: JSON, or @file.' }),
    reason: textFlag({ summary: 'Why, for the audit log.' }),
    ...operatorFlags,
    ...bulkSelectionFlags,
  }

  async run() {
    const f = this.flags
    const fromStep = f['from-step']
    const target = actionTarget(this.args.id, f, {
      singleOnly: { step: f.step, 'from-step': fromStep, input: f.input },
      bulkOnly: fromStep ? {} : { 'dry-run': f['dry-run'] },
    })
    if (fromStep && f.step) throw new UsageError('give --step (retry the failed step) or --from-step (rerun from a step), not both')
    const input = f.input === undefined ? undefined : readJsonInput(f.input)
    const db = await this.db()
    const engine = new Engine(db)
    const ctx = { operator: currentOperator(f.operator), reason: f.reason, ...(input === undefined ? {} : { input }) }
    if (fromStep && target.kind === 'one') {
      const before = await findSaga(db, target.id)
      if (f['dry-run']) {
        const plan = await rerunPlan(engine, before.id, fromStep)
        if (!this.jsonEnabled()) this.log(rerunPlanText(plan))
        if (!plan.allowed) process.exitCode = ExitCode.conflict
        return plan
      }
      const after = await rerunFromStep(engine, before.id, { ...ctx, fromStep, expectedRevision: before.revision })
      if (!this.jsonEnabled()) this.log(actionLine(`rerunning from ${fromStep}:`, before, after))
      return after
    }
    return sagaAction({
      db,
      target,
      flags: f,
      verb: 'Retry',
      done: 'retried',
      eligibility: (s, now) => retryRefusal(s, now),
      json: this.jsonEnabled(),
      log: (line) => this.log(line),
      // --step and --input are refused in the bulk form, so they are only ever set for one saga.
      act: (id, expectedRevision) => engine.retry(id, { ...ctx, step: f.step, expectedRevision }),
    })
  }
}
