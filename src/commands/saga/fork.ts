import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { findSaga, operatorFlags } from '../../cli/bulk.js'
import { textFlag } from '../../cli/flags.js'
import { shortId } from '../../cli/format.js'
import { readJsonInput } from '../../cli/input.js'
import { forkPlanText } from '../../cli/repair-format.js'
import { Engine } from '../../engine/engine.js'
import { forkPlan, forkSaga, parseVersionChoice } from '../../engine/fork.js'
import { currentOperator } from '../../engine/operator.js'
import { ExitCode, UsageError } from '../../errors.js'

export default class SagaFork extends BaseCommand<typeof SagaFork> {
  static override summary = 'Start a new saga from a step of an existing one: the steps before it keep the original outputs and are not called again.'
  static override description =
    'The fork is a new saga (new id, so services see new idempotency keys) linked to the original by forkedFrom; "saga show" of the original lists its forks. The original is not changed. ' +
    'The steps before --from-step count as done with the outputs the original recorded (they are never called again, and the fork compensates them if it rolls back); --from-step and every step after it are called. ' +
    'Without --from-step the fork starts from the first step. --input replaces the input (default: the original\'s); --version runs the fork on another version of the definition (default: the original\'s), its steps mapped by name. ' +
    'The fork has the original\'s tags and no start key unless --key gives one. ' +
    'Refused (exit 4, nothing written) when a step the fork would keep has not finished in the original, or has been (or is being) compensated there: fork from that step or an earlier one. --dry-run prints what the fork would keep and call, and says when it would be refused.'
  static override examples = [
    '<%= config.bin %> saga fork key:order-1042 --from-step ship --dry-run',
    '<%= config.bin %> saga fork key:order-1042 --from-step ship --version latest --reason "ship fixed in v3"',
    '<%= config.bin %> saga fork 0193ab12 --from-step charge --input @fixed.json --key order-1042-retry --reason "card replaced" --json',
  ]
  static override args = {
    id: Args.string({ description: 'The original: saga id, unique prefix or key:<start key>.', required: true }),
  }
  static override flags = {
    'from-step': Flags.string({ summary: 'The first step the fork calls; the steps before it keep the original outputs [default: the first step].' }),
    input: Flags.string({ char: 'i', summary: "The fork's input: JSON, or @file [default: the original's]." }),
    version: Flags.string({ summary: 'Definition version of the fork: a number, or latest [default: the original\'s].' }),
    key: Flags.string({ summary: "The fork's start key (unique) [default: none]." }),
    'dry-run': Flags.boolean({ summary: 'Print what the fork would keep and call; start nothing.' }),
    reason: textFlag({ summary: 'Why, for the audit log (required unless --dry-run).' }),
    ...operatorFlags,
  }

  async run() {
    const f = this.flags
    if (!f['dry-run'] && !f.reason) throw new UsageError('--reason is required: say why, for the audit log')
    const opts = {
      ...(f['from-step'] === undefined ? {} : { fromStep: f['from-step'] }),
      ...(f.input === undefined ? {} : { input: readJsonInput(f.input) }),
      ...(f.version === undefined ? {} : { version: parseVersionChoice(f.version) }),
      ...(f.key === undefined ? {} : { key: f.key }),
    }
    const db = await this.db()
    const engine = new Engine(db)
    const original = await findSaga(db, this.args.id)
    if (f['dry-run']) {
      const plan = await forkPlan(engine, original.id, opts)
      if (!this.jsonEnabled()) this.log(forkPlanText(plan))
      if (!plan.allowed) process.exitCode = ExitCode.conflict
      return plan
    }
    const { saga, plan } = await forkSaga(engine, original.id, { ...opts, operator: currentOperator(f.operator), reason: f.reason, expectedRevision: original.revision })
    if (!this.jsonEnabled()) {
      const kept = plan.steps.filter((s) => s.action === 'keep').length
      this.log(`forked ${shortId(original.id)}… as ${saga.id} (${saga.definition}@${saga.version}, from ${plan.fromStep}: ${kept} step${kept === 1 ? '' : 's'} kept)`)
    }
    return saga
  }
}
