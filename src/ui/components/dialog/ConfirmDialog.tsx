import { Box, Text } from 'ink'
import type { CompensationPlan } from '../../../engine/actions.js'
import { shortId, truncate } from '../../format.js'
import { TextInput } from '../text-input/TextInput.js'
import { DIALOG_TITLES, focusedField, isRepair, repairStale, RESOLVE_ACTIONS, type DialogState, type RepairPlan } from './dialog-state.js'

function PlanLines({ plan, max, width }: { plan: CompensationPlan; max: number; width: number }) {
  const ordered = [...plan.steps].sort((a, b) => (a.order ?? Number.MAX_SAFE_INTEGER) - (b.order ?? Number.MAX_SAFE_INTEGER) || a.index - b.index)
  const undo = ordered.filter((s) => s.compensate)
  const lines = ordered.slice(0, max)
  return (
    <>
      <Text bold>{undo.length === 0 ? 'Plan: nothing to undo' : `Plan: undo ${undo.length} step${undo.length === 1 ? '' : 's'}, in this order`}</Text>
      {lines.map((s) => (
        <Text key={`${s.index}`} wrap="truncate" dimColor={!s.compensate}>
          {truncate(`  ${s.compensate ? `${s.order ?? '?'}.` : '- '} ${s.step}: ${s.why}`, width)}
        </Text>
      ))}
      {ordered.length > lines.length ? <Text dimColor>{`  … ${ordered.length - lines.length} more`}</Text> : null}
    </>
  )
}

function RepairLines({ repair, max, width }: { repair: RepairPlan; max: number; width: number }) {
  const lines =
    repair.kind === 'fork'
      ? repair.plan.steps.map((s) => `  ${s.action === 'keep' ? 'keep' : 'call'}  ${s.step}${s.action === 'keep' ? ': its output, not called' : ''}`)
      : repair.plan.steps.map((s) => `  ${s.step}: ${s.from === null ? '-' : s.from + 1} -> ${s.to === null ? 'dropped' : s.to + 1}${s.ran ? ', ran' : ''}${s.from !== null && s.to !== null && s.changed ? ', changed' : ''}`)
  const p = repair.plan
  const title =
    repair.kind === 'fork'
      ? `Plan: a new saga on ${repair.plan.definition}@${repair.plan.version}, from ${repair.plan.fromStep}; keeps ${repair.plan.steps.filter((s) => s.action === 'keep').length}`
      : `Plan: @${repair.plan.fromVersion} -> @${repair.plan.toVersion}${repair.plan.currentStep ? `, continuing at ${repair.plan.currentStep}` : ''}`
  return (
    <>
      <Text bold wrap="truncate" dimColor={!p.allowed}>
        {truncate(title, width)}
      </Text>
      {lines.slice(0, max).map((l, i) => (
        <Text key={`${i}`} wrap="truncate" dimColor={!p.allowed}>
          {truncate(l, width)}
        </Text>
      ))}
      {lines.length > max ? <Text dimColor>{`  … ${lines.length - max} more`}</Text> : null}
    </>
  )
}

function footer(d: DialogState): string {
  if (isRepair(d.kind)) return `${repairStale(d) ? 'Enter show the plan for these values' : 'Enter confirm'} · Esc cancel · Tab next field`
  return d.refusal ? 'Esc close' : `Enter confirm · Esc cancel${d.fields.length > 1 ? ' · Tab next field' : ''}`
}

/** The confirmation of an operator action: what it acts on, its inputs, Enter/Esc. Renders only. */
export function ConfirmDialog({ dialog: d, width, height }: { dialog: DialogState; width: number; height: number }) {
  const inner = Math.max(20, width - 4)
  const focus = focusedField(d)
  const label = (name: string, field: string) => (
    <Text color={focus === field ? 'cyan' : undefined} bold={focus === field}>
      {name.padEnd(8)}
    </Text>
  )
  const t = d.target
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="cyan" paddingX={1} width={width}>
      <Text bold wrap="truncate">
        {DIALOG_TITLES[d.kind]}
      </Text>
      {t ? (
        <>
          <Text wrap="truncate">{`saga ${shortId(t.sagaId)}${t.definition ? ` · ${t.definition}` : ''}${t.revision === null ? '' : ` · rev ${t.revision}`}`}</Text>
          <Text wrap="truncate">{[t.status, t.step ? `step ${t.step}` : null].filter(Boolean).join(' · ')}</Text>
        </>
      ) : null}
      {d.participant ? <Text wrap="truncate">{`participant ${d.participant}`}</Text> : null}
      {d.group ? (
        <>
          <Text wrap="truncate">{`${d.group.count} saga${d.group.count === 1 ? '' : 's'}: ${d.group.label}`}</Text>
          <Text dimColor wrap="truncate">
            {d.group.sagas.length < d.group.count
              ? `acts on the newest ${d.group.sagas.length}; each checked against the revision on screen`
              : 'one by one, each checked against the revision on screen'}
          </Text>
        </>
      ) : null}
      {d.refusal ? <Text color="yellow" wrap="truncate">{`would be refused: ${d.refusal}`}</Text> : null}
      {d.group && d.refusedInGroup.length > 0 ? (
        <Text color="yellow" wrap="truncate">
          {`${d.refusedInGroup.length} of ${d.group.sagas.length} would be refused and are left alone: ${d.refusedInGroup[0]!.reason}`}
        </Text>
      ) : null}
      {d.plan?.state === 'loading' ? <Text dimColor>loading the compensation plan…</Text> : null}
      {d.plan?.state === 'error' ? <Text color="red" wrap="truncate">{`plan: ${d.plan.message}`}</Text> : null}
      {d.plan?.state === 'loaded' ? <PlanLines plan={d.plan.value} max={Math.max(1, height - 9)} width={inner} /> : null}
      {d.repair?.state === 'loading' ? <Text dimColor>loading the plan…</Text> : null}
      {d.repair?.state === 'loaded' ? <RepairLines repair={d.repair.value} max={Math.max(1, height - 11)} width={inner} /> : null}
      {d.intervention?.state === 'loading' ? <Text dimColor>looking up the open intervention…</Text> : null}
      {d.intervention?.state === 'loaded' && d.intervention.value?.reason ? (
        <Text wrap="truncate">{`intervention: ${d.intervention.value.reason}`}</Text>
      ) : null}
      {d.fields.includes('action') ? (
        <Text wrap="truncate">
          {label('action', 'action')}
          {RESOLVE_ACTIONS.map((a) => (
            <Text key={a} inverse={a === d.action}>{` ${a} `}</Text>
          ))}
          <Text dimColor>{focus === 'action' ? '  ←/→' : ''}</Text>
        </Text>
      ) : null}
      {d.fields.includes('step') ? (
        <Text wrap="truncate">
          {label(d.kind === 'fork' ? 'from' : 'step', 'step')}
          <TextInput value={d.step} focus={focus === 'step'} width={inner - 9} placeholder={d.kind === 'fork' ? '(the first step)' : ''} />
        </Text>
      ) : null}
      {d.fields.includes('version') ? (
        <Text wrap="truncate">
          {label('version', 'version')}
          <TextInput value={d.version} focus={focus === 'version'} width={inner - 9} placeholder={d.kind === 'fork' ? "(the saga's; or a number, latest)" : ''} />
        </Text>
      ) : null}
      <Text wrap="truncate">
        {label(d.kind === 'resolve' ? 'note' : 'reason', 'reason')}
        <TextInput value={d.reason} focus={focus === 'reason'} width={inner - 9} placeholder={d.kind === 'retry' || d.kind === 'compensate' || d.kind === 'resume' || d.kind.startsWith('group') ? '(optional)' : ''} />
      </Text>
      {d.error ? <Text color="red" wrap="truncate">{d.error}</Text> : null}
      <Text dimColor wrap="truncate">
        {footer(d)}
      </Text>
    </Box>
  )
}
