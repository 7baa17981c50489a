import { Text } from 'ink'
import type { TextValue } from './edit.js'

/** Renders a text field; the cursor is an inverse cell, shown only when the field has focus. */
export function TextInput({ value, focus, placeholder, width }: { value: TextValue; focus: boolean; placeholder?: string; width: number }) {
  const { value: text, cursor } = value
  if (!focus) return <Text dimColor={text === ''}>{text === '' ? (placeholder ?? '') : text}</Text>
  // Keep the cursor in view when the text is wider than the field.
  const start = Math.max(0, cursor - Math.max(1, width - 1))
  const visible = text.slice(start, start + width)
  const at = cursor - start
  return (
    <Text>
      {visible.slice(0, at)}
      <Text inverse>{visible[at] ?? ' '}</Text>
      {visible.slice(at + 1)}
      {text === '' && placeholder ? <Text dimColor>{placeholder}</Text> : null}
    </Text>
  )
}
