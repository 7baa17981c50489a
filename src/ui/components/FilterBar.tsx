import { Text } from 'ink'
import type { LiveFilter } from '../views.js'
import type { TextValue } from './text-input/edit.js'
import { TextInput } from './text-input/TextInput.js'

/** The live view's filter, or the text filter being typed. Renders only. */
export function FilterBar({ filter, input, width }: { filter: LiveFilter; input: TextValue | null; width: number }) {
  if (input) {
    return (
      <Text wrap="truncate">
        <Text color="cyan">/ </Text>
        <TextInput value={input} focus width={Math.max(10, width - 40)} />
        <Text dimColor>{'  Enter apply · Esc cancel'}</Text>
      </Text>
    )
  }
  return (
    <Text wrap="truncate">
      <Text dimColor>status </Text>
      <Text bold>{filter.status}</Text>
      <Text dimColor> · definition </Text>
      <Text bold>{filter.definition ?? 'all'}</Text>
      <Text dimColor> · text </Text>
      <Text bold>{filter.text === '' ? '-' : `"${filter.text}"`}</Text>
      <Text dimColor>{'   (s, d, /)'}</Text>
    </Text>
  )
}
