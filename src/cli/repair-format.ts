import type { RerunPlan } from '../engine/rerun.js'
import { shortId } from './format.js'
import { color, status, table } from './render.js'

/** The `retry --from-step --dry-run` plan: which steps keep their output, which run again, and under which key. */
export function rerunPlanText(plan: RerunPlan): string {
  const again = plan.steps.filter((s) => s.action === 'run')
  const lines = [
    plan.refusal
      ? color.yellow(`rerun would be refused: ${plan.refusal}`)
      : `saga ${shortId(plan.sagaId)}… (${status(plan.status)}): ${again.length} of ${plan.steps.length} steps would run again, from ${plan.fromStep}`,
    table(
      ['step', 'now', 'rerun', 'key suffix'],
      plan.steps.map((s) => [
        s.step,
        s.status ?? color.dim('never reached'),
        s.action === 'run' ? 'run again' : color.dim('keep output'),
        s.action === 'run' && s.rerun > 0 ? `:rerun-${s.rerun}` : '',
      ]),
    ),
    color.dim('dry run: nothing changed'),
  ]
  return lines.join('\n')
}
