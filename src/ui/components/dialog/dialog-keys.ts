import type { Key } from 'ink'
import { editText } from '../text-input/edit.js'
import { focusedField, isRepair, repairStale, validateDialog, type DialogAction, type DialogState } from './dialog-state.js'

/** `repair-plan`: the step or version typed differs from the plan on screen; ask for the plan first. */
export type DialogIntent = { type: 'update'; action: DialogAction } | { type: 'submit' } | { type: 'repair-plan' } | { type: 'cancel' } | { type: 'quit' }

const SHORTCUTS = { r: 'retry', s: 'skip', c: 'compensate', a: 'abort' } as const

/** What a key means inside the confirmation dialog; null = nothing. */
export function dialogKey(d: DialogState, input: string, key: Partial<Key>): DialogIntent | null {
  if (key.ctrl && input === 'c') return { type: 'quit' }
  if (key.escape) return { type: 'cancel' }
  if (key.return) {
    const invalid = validateDialog(d)
    if (invalid) return { type: 'update', action: { type: 'invalid', ...invalid } }
    return isRepair(d.kind) && repairStale(d) ? { type: 'repair-plan' } : { type: 'submit' }
  }
  if (key.tab || key.downArrow || key.upArrow) {
    return { type: 'update', action: { type: 'focus', delta: key.upArrow || (key.tab && key.shift) ? -1 : 1 } }
  }
  const field = focusedField(d)
  if (field === 'action') {
    if (key.leftArrow) return { type: 'update', action: { type: 'choose', delta: -1 } }
    if (key.rightArrow || input === ' ') return { type: 'update', action: { type: 'choose', delta: 1 } }
    const shortcut = SHORTCUTS[input as keyof typeof SHORTCUTS]
    return shortcut ? { type: 'update', action: { type: 'choose-action', action: shortcut } } : null
  }
  const value = editText(d[field], input, key)
  return value ? { type: 'update', action: { type: 'edit', field, value } } : null
}
