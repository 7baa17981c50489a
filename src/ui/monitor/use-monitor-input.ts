import { useInput, type Key } from 'ink'
import { useCallback, useRef } from 'react'
import { dialogKey, type DialogIntent } from '../components/dialog/dialog-keys.js'
import { focusedField, type DialogState } from '../components/dialog/dialog-state.js'
import { monitorKey, type Intent } from './keys.js'
import { splitInput } from './split-input.js'
import type { MonitorState } from './state.js'

const isTyping = (s: MonitorState): boolean => s.filterInput !== null || (s.dialog !== null && focusedField(s.dialog) !== 'action')

export interface InputHandlers {
  onIntents: (intents: Intent[]) => void
  onDialog: (intent: DialogIntent, dialog: DialogState) => void
}

/**
 * The console's one key handler: to the open dialog if there is one, else to the screen.
 * One subscription that never toggles: switching `isActive` between two hooks re-arms
 * raw mode in an effect, and a key typed before that effect ran would be lost. Keys are
 * read against `state.current`, which has every dispatched action applied even before
 * React renders it.
 */
export function useMonitorInput(state: { readonly current: MonitorState }, handlers: InputHandlers): void {
  const latest = useRef(handlers)
  latest.current = handlers
  const onKey = useCallback(
    (input: string, key: Partial<Key>) => {
      const s = state.current
      const h = latest.current
      if (s.dialog) {
        const intent = dialogKey(s.dialog, input, key)
        if (intent) h.onDialog(intent, s.dialog)
        return
      }
      const intents = monitorKey(s, input, key)
      if (intents.length > 0) h.onIntents(intents)
    },
    [state],
  )
  const onChunk = useCallback(
    (input: string, key: Key) => {
      if (input.length <= 1 || input.includes('\u001B')) return onKey(input, key)
      // Each part sees the state the previous one left: `r` opens a dialog, the rest is its reason.
      for (const part of splitInput(input, () => isTyping(state.current))) onKey(part.input, part.key)
    },
    [onKey, state],
  )
  useInput(onChunk)
}
