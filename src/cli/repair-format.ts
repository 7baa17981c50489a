import type { ForkPlan } from '../engine/fork.js'
import type { MigratePlan } from '../engine/migrate.js'
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

/** The `saga fork --dry-run` plan: which steps the fork keeps (never calls) and which it calls. */
export function forkPlanText(plan: ForkPlan): string {
  const kept = plan.steps.filter((s) => s.action === 'keep').length
  const where = `${plan.definition}@${plan.version}${plan.version === plan.fromVersion ? '' : ` (the original is on @${plan.fromVersion})`}`
  return [
    plan.refusal
      ? color.yellow(`fork would be refused: ${plan.refusal}`)
      : `fork of saga ${shortId(plan.sagaId)}… (${status(plan.status)}) from ${plan.fromStep} on ${where}: keeps ${kept} of ${plan.steps.length} steps, calls ${plan.steps.length - kept}`,
    table(
      ['step', 'in the original', 'the fork'],
      plan.steps.map((s) => [s.step, s.status ?? color.dim('never reached'), s.action === 'keep' ? color.dim('keep output, not called') : 'call']),
    ),
    color.dim(`key: ${plan.key ?? 'none'} · input: ${plan.inputReplaced ? 'replaced' : "the original's"} · dry run: nothing changed`),
  ].join('\n')
}

/** The `saga migrate --dry-run` plan: how the steps map by name, and whether the move would be refused. */
export function migratePlanText(plan: MigratePlan): string {
  const at = (i: number | null) => (i === null ? color.dim('-') : String(i + 1))
  return [
    plan.refusal
      ? color.yellow(`migrate would be refused: ${plan.refusal}`)
      : `saga ${shortId(plan.sagaId)}… (${status(plan.status)}) would move from ${plan.definition}@${plan.fromVersion} to @${plan.toVersion}${plan.currentStep ? `, continuing at ${plan.currentStep}` : ''}`,
    table(
      ['step', `@${plan.fromVersion}`, `@${plan.toVersion}`, 'ran', 'definition'],
      plan.steps.map((s) => [s.step, at(s.from), at(s.to), s.ran ? 'yes' : '', s.to === null ? color.dim('dropped') : s.from === null ? 'new' : s.changed ? 'changed' : color.dim('same')]),
    ),
    color.dim('dry run: nothing changed'),
  ].join('\n')
}
