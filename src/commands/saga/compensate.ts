import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base-command.js'
import { actionTarget, bulkFlags, findSaga, operatorFlags, sagaAction } from '../../cli/bulk.js'
import { sagaFilterFlags, textFlag } from '../../cli/flags.js'
import { shortId } from '../../cli/format.js'
import { color, status, table } from '../../cli/render.js'
import type { CompensationPlan } from '../../engine/actions.js'
import { Engine } from '../../engine/engine.js'
import { compensateRefusal } from '../../engine/eligibility.js'
import { currentOperator } from '../../engine/operator.js'
import { ExitCode } from '../../errors.js'

export default class SagaCompensate extends BaseCommand<typeof SagaCompensate> {
  static override summary = 'Roll back a running or suspended saga, or every saga the filters select.'
  static override description =
    'Every step whose action was attempted is compensated, in reverse order (or the definition\'s compensationOrder); steps never attempted are not. ' +
    'A worker or "compensate --batch" carries the compensation out. --dry-run prints the plan: which steps, in which order, and why. ' +
    'Exit 4 when the saga is finished or already compensating, or changed while you looked; --dry-run says so first and exits 4 as well. ' +
    'Bulk form: filter flags instead of an id; prints how many match, asks before acting (--yes skips; --dry-run lists them), and reports succeeded, refused (the state does not allow it), changed meanwhile and failed: exit 0 all succeeded, 4 some refused or changed, 1 some failed. Sagas it would be refused on are named before the question and left alone.'
  static override examples = [
    '<%= config.bin %> saga compensate 0193ab12 --dry-run',
    '<%= config.bin %> saga compensate 0193ab12 --reason "customer cancelled"',
    '<%= config.bin %> saga compensate --status suspended --def order-checkout --dry-run',
    '<%= config.bin %> saga compensate --stuck --stuck-after 30m --reason "inventory outage" --yes --rps 10',
  ]
  static override args = {
    id: Args.string({ description: 'Saga id or unique prefix; omit it and give filter flags for the bulk form.' }),
  }
  static override flags = {
    reason: textFlag({ summary: 'Why, for the audit log and the saga.' }),
    'dry-run': Flags.boolean({ summary: 'With an id: print the compensation plan; with filters: list the sagas. Change nothing.' }),
    ...operatorFlags,
    ...bulkFlags,
    ...sagaFilterFlags,
  }

  async run() {
    const f = this.flags
    const target = actionTarget(this.args.id, f)
    const db = await this.db()
    const engine = new Engine(db)
    const ctx = { operator: currentOperator(f.operator), reason: f.reason }
    if (target.kind === 'one' && f['dry-run']) {
      const plan = await engine.compensationPlan((await findSaga(db, target.id)).id)
      if (!this.jsonEnabled()) this.log(planText(plan))
      // The dry run exits as compensate would: 4 when it would be refused.
      if (!plan.allowed) process.exitCode = ExitCode.conflict
      return plan
    }
    return sagaAction({
      db,
      target,
      flags: f,
      verb: 'Compensate',
      done: 'compensating',
      eligibility: (s) => compensateRefusal(s),
      json: this.jsonEnabled(),
      log: (line) => this.log(line),
      act: (id, expectedRevision) => engine.compensate(id, { ...ctx, expectedRevision }),
    })
  }
}

/** Steps in the order they would be compensated, then the ones left alone, each with why. */
function planText(plan: CompensationPlan): string {
  const chosen = plan.steps.filter((s) => s.compensate).sort((a, b) => (a.order ?? 0) - (b.order ?? 0))
  const left = plan.steps.filter((s) => !s.compensate)
  const lines = [
    plan.refusal
      ? color.yellow(`compensate would be refused: ${plan.refusal}`)
      : `saga ${shortId(plan.sagaId)}… (${status(plan.status)}): ${chosen.length} of ${plan.steps.length} steps would be compensated`,
    table(
      ['order', 'step', 'compensate', 'why'],
      [...chosen, ...left].map((s) => [s.order ?? '', s.step, s.compensate ? 'yes' : 'no', s.why]),
    ),
  ]
  lines.push(color.dim('dry run: nothing changed'))
  return lines.join('\n')
}
