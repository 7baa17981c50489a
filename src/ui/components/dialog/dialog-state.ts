import type { CompensationPlan } from '../../../engine/actions.js'
import { refusalFor, type OperatorAction, type SagaState } from '../../../engine/eligibility.js'
import { parseVersionChoice, type ForkPlan, type VersionChoice } from '../../../engine/fork.js'
import type { MigratePlan } from '../../../engine/migrate.js'
import type { InterventionAction } from '../../../engine/types.js'
import { textValue, type TextValue } from '../text-input/edit.js'

export type SagaActionKind = 'retry' | 'compensate' | 'skip' | 'abort' | 'resolve' | 'fork' | 'migrate'
/** The actions whose plan depends on what is typed (a step, a version): it is asked again before confirming. */
export type RepairKind = 'fork' | 'migrate'
export type GroupActionKind = 'group-retry' | 'group-compensate'
export type ParticipantActionKind = 'pause' | 'resume'
export type DialogKind = SagaActionKind | GroupActionKind | ParticipantActionKind

export type Field = 'step' | 'version' | 'action' | 'reason'
export const RESOLVE_ACTIONS: readonly InterventionAction[] = ['retry', 'skip', 'compensate', 'abort']

/** The saga an action is aimed at, as the operator saw it when opening the dialog. */
export interface ActionTarget {
  sagaId: string
  /** Checked by the engine; null when the row did not carry it (the action is then unchecked). */
  revision: number | null
  definition: string | null
  step: string | null
  status: string | null
  interventionId: string | null
  /** The saga's state as shown, when the row carries it: the dialog says up front what the engine would refuse. */
  state?: SagaState
}

export interface GroupTarget {
  label: string
  count: number
  sagas: Array<{ id: string; revision: number; status?: SagaState['status']; inCompensation?: boolean }>
}

export type Loadable<T> = { state: 'loading' } | { state: 'loaded'; value: T } | { state: 'error'; message: string }

export type RepairPlan = { kind: 'fork'; plan: ForkPlan } | { kind: 'migrate'; plan: MigratePlan }

/** What a fork or a move is asked with: the step (fork: empty is the first) and the version (fork: empty is the saga's). */
export interface RepairInputs {
  step: string
  version: string
}

export interface DialogState {
  kind: DialogKind
  target: ActionTarget | null
  group: GroupTarget | null
  /** pause, resume: the participant's name. */
  participant: string | null
  fields: Field[]
  focus: number
  step: TextValue
  /** fork, migrate: the definition version, a number or latest. */
  version: TextValue
  reason: TextValue
  action: InterventionAction
  /** compensate: what will be undone, in which order. */
  plan: Loadable<CompensationPlan> | null
  /** fork, migrate: what would be kept, called or mapped, asked for `repairFor`. */
  repair: Loadable<RepairPlan> | null
  /** The step and version the repair plan was asked for: other values make it stale, and Enter asks again. */
  repairFor: RepairInputs | null
  /** resolve from a saga row: its open intervention, looked up when the dialog opens. */
  intervention: Loadable<{ id: string; reason: string; step: string | null } | null> | null
  /** Why the engine would refuse this action on the saga as shown (the compensation plan's answer once loaded); the dialog cannot be confirmed. */
  refusal: string | null
  /** Group actions: the sagas of the group the action would be refused on, with why; they are left alone. */
  refusedInGroup: Array<{ id: string; reason: string }>
  error: string | null
}

export type DialogAction =
  | { type: 'focus'; delta: 1 | -1 }
  | { type: 'edit'; field: 'step' | 'version' | 'reason'; value: TextValue }
  | { type: 'choose'; delta: 1 | -1 }
  | { type: 'choose-action'; action: InterventionAction }
  | { type: 'plan'; plan: Loadable<CompensationPlan> }
  | { type: 'repair'; plan: Loadable<RepairPlan>; for: RepairInputs }
  | { type: 'intervention'; intervention: Loadable<{ id: string; reason: string; step: string | null } | null> }
  | { type: 'invalid'; message: string; field?: Field }

const FIELDS: Record<DialogKind, Field[]> = {
  retry: ['reason'],
  compensate: ['reason'],
  skip: ['step', 'reason'],
  abort: ['reason'],
  fork: ['step', 'version', 'reason'],
  migrate: ['version', 'reason'],
  resolve: ['action', 'reason'],
  'group-retry': ['reason'],
  'group-compensate': ['reason'],
  pause: ['reason'],
  resume: ['reason'],
}

export function openDialog(kind: DialogKind, target: ActionTarget | null, group: GroupTarget | null = null, participant: string | null = null): DialogState {
  const fields = FIELDS[kind]
  return {
    kind,
    target,
    group,
    participant,
    fields,
    // The step is prefilled, so typing goes to the reason; resolve starts on the choice of action.
    focus: kind === 'resolve' ? 0 : fields.indexOf('reason'),
    step: textValue(kind === 'skip' || kind === 'fork' ? (target?.step ?? '') : ''),
    version: textValue(kind === 'migrate' ? 'latest' : ''),
    reason: textValue(),
    action: 'retry',
    plan: kind === 'compensate' ? { state: 'loading' } : null,
    repair: isRepair(kind) ? { state: 'loading' } : null,
    repairFor: null,
    intervention:
      kind !== 'resolve' ? null : target?.interventionId ? { state: 'loaded', value: { id: target.interventionId, reason: '', step: target.step } } : { state: 'loading' },
    refusal: kind !== 'resolve' && !isRepair(kind) && !kind.startsWith('group') && target?.state ? prefixed(refusalFor(kind as OperatorAction, target.state)) : null,
    refusedInGroup: group ? groupRefusals(kind, group) : [],
    error: null,
  }
}

export const isRepair = (kind: DialogKind): kind is RepairKind => kind === 'fork' || kind === 'migrate'

/** The step and version as typed. */
export function repairInputs(d: DialogState): RepairInputs {
  return { step: d.step.value.trim(), version: d.version.value.trim() }
}

/** The plan on screen was asked for other values than those typed now (or has not been asked for yet). */
export function repairStale(d: DialogState): boolean {
  const now = repairInputs(d)
  return d.repairFor === null || d.repairFor.step !== now.step || d.repairFor.version !== now.version
}

/** The version typed, as the engine takes it; undefined for an empty fork version (the saga's own). */
export function versionOf(text: string): VersionChoice | undefined {
  return text === '' ? undefined : parseVersionChoice(text, 'version')
}

const prefixed = (refusal: string | null) => (refusal ? `the saga ${refusal}` : null)
/** The engine names the saga by its full id; the dialog already shows which saga it is. */
const withoutId = (refusal: string | null) => (refusal ? refusal.replace(/^saga \S+ /, 'the saga ') : null)

/** What a group action would be refused on, from each saga's state as the group query read it. */
export function groupRefusals(kind: DialogKind, group: GroupTarget): Array<{ id: string; reason: string }> {
  const action = kind === 'group-compensate' ? 'compensate' : 'retry'
  const out: Array<{ id: string; reason: string }> = []
  for (const s of group.sagas) {
    if (!s.status) continue
    // Group members are failing (running or compensating with an error) or suspended.
    const reason = refusalFor(action, { status: s.status, compensationPlan: s.inCompensation ? [] : null, lastError: s.status === 'suspended' ? null : 'failing' })
    if (reason) out.push({ id: s.id, reason })
  }
  return out
}

export function focusedField(d: DialogState): Field {
  return d.fields[d.focus] ?? 'reason'
}

export function dialogReducer(d: DialogState, a: DialogAction): DialogState {
  switch (a.type) {
    case 'focus':
      return { ...d, focus: (d.focus + a.delta + d.fields.length) % d.fields.length }
    case 'edit':
      return { ...d, [a.field]: a.value, error: null }
    case 'choose': {
      const i = RESOLVE_ACTIONS.indexOf(d.action)
      return { ...d, action: RESOLVE_ACTIONS[(i + a.delta + RESOLVE_ACTIONS.length) % RESOLVE_ACTIONS.length]!, error: null }
    }
    case 'choose-action':
      return { ...d, action: a.action, error: null }
    case 'plan':
      // The engine's answer is fresher than the row the dialog was opened on.
      return { ...d, plan: a.plan, refusal: a.plan.state === 'loaded' ? withoutId(a.plan.value.refusal) : d.refusal }
    case 'repair': {
      const refusal = a.plan.state === 'loaded' ? withoutId(a.plan.value.plan.refusal) : null
      return { ...d, repair: a.plan, repairFor: a.for, refusal, error: a.plan.state === 'error' ? a.plan.message : null }
    }
    case 'intervention':
      return { ...d, intervention: a.intervention }
    case 'invalid': {
      const focus = a.field ? d.fields.indexOf(a.field) : -1
      return { ...d, error: a.message, focus: focus >= 0 ? focus : d.focus }
    }
  }
}

/** Why the dialog cannot be confirmed yet, or null. Reasons are required where the CLI requires them. */
export function validateDialog(d: DialogState): { message: string; field?: Field } | null {
  if (isRepair(d.kind)) return validateRepair(d)
  if (d.refusal) return { message: `refused: ${d.refusal} (Esc to close)` }
  if (d.group && d.group.sagas.length > 0 && d.refusedInGroup.length === d.group.sagas.length) {
    return { message: `refused on all ${d.group.sagas.length}: ${d.refusedInGroup[0]!.reason} (Esc to close)` }
  }
  const reason = d.reason.value.trim()
  if (d.kind === 'skip' && d.step.value.trim() === '') return { message: 'which step? type its name', field: 'step' }
  if ((d.kind === 'skip' || d.kind === 'abort' || d.kind === 'pause') && reason === '') return { message: 'a reason is required', field: 'reason' }
  if (d.kind === 'resolve') {
    if (d.intervention?.state === 'loading') return { message: 'still looking up the intervention' }
    if (d.intervention?.state === 'error') return { message: d.intervention.message }
    if (d.intervention?.state === 'loaded' && d.intervention.value === null) return { message: 'this saga has no open intervention' }
    if (reason === '') return { message: 'a note is required', field: 'reason' }
  }
  if (d.group && d.group.sagas.length === 0) return { message: 'the group is empty' }
  return null
}

function validateRepair(d: DialogState): { message: string; field?: Field } | null {
  const { version } = repairInputs(d)
  if (d.kind === 'migrate' && version === '') return { message: 'which version? a number, or latest', field: 'version' }
  try {
    versionOf(version)
  } catch (err) {
    return { message: (err as Error).message, field: 'version' }
  }
  if (d.repair?.state === 'loading') return { message: 'still loading the plan' }
  if (d.repair?.state === 'error' && !repairStale(d)) return { message: `${d.repair.message} (change it, or Esc)` }
  if (d.refusal && !repairStale(d)) return { message: `refused: ${d.refusal} (change ${d.kind === 'fork' ? 'the step or ' : ''}the version, or Esc)` }
  if (d.reason.value.trim() === '' && !repairStale(d)) return { message: 'a reason is required', field: 'reason' }
  return null
}

export const DIALOG_TITLES: Record<DialogKind, string> = {
  retry: 'Retry',
  compensate: 'Compensate',
  skip: 'Skip a step',
  abort: 'Abort (no compensation)',
  resolve: 'Resolve intervention',
  fork: 'Fork: a new saga from a step (the steps before it are kept, not called)',
  migrate: 'Move to another definition version',
  'group-retry': 'Retry the group',
  'group-compensate': 'Compensate the group',
  pause: 'Pause the participant (no new calls from any worker)',
  resume: 'Resume the participant',
}
