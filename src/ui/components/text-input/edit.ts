import type { Key } from 'ink'

/** A one-line text field: its value and where the cursor is. */
export interface TextValue {
  value: string
  cursor: number
}

export const textValue = (value = ''): TextValue => ({ value, cursor: value.length })

// Control characters (a stray escape sequence, a pasted newline) never become part of a reason.
const CONTROL = /[\u0000-\u001f\u007f]/g

/**
 * Applies one key to a text field; null when the key is not for the field, so the caller
 * can give it another meaning (Enter, Esc, Tab).
 */
export function editText(t: TextValue, input: string, key: Partial<Key>): TextValue | null {
  if (key.return || key.escape || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return null
  // Terminals send DEL for Backspace, which Ink reports as `delete`: both erase backwards.
  if (key.backspace || key.delete) {
    if (t.cursor === 0) return t
    return { value: t.value.slice(0, t.cursor - 1) + t.value.slice(t.cursor), cursor: t.cursor - 1 }
  }
  if (key.leftArrow) return { ...t, cursor: Math.max(0, t.cursor - 1) }
  if (key.rightArrow) return { ...t, cursor: Math.min(t.value.length, t.cursor + 1) }
  if (key.home || (key.ctrl && input === 'a')) return { ...t, cursor: 0 }
  if (key.end || (key.ctrl && input === 'e')) return { ...t, cursor: t.value.length }
  if (key.ctrl && input === 'u') return { value: t.value.slice(t.cursor), cursor: 0 }
  if (key.ctrl || key.meta) return null
  const text = input.replace(CONTROL, '')
  if (text === '') return null
  return { value: t.value.slice(0, t.cursor) + text + t.value.slice(t.cursor), cursor: t.cursor + text.length }
}
