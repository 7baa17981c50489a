import { Box, Text } from 'ink'
import { pad } from '../../format.js'
import { fitColumns, headerLine, type Column } from './layout.js'

export interface TableProps<R> {
  columns: ReadonlyArray<Column<R>>
  rows: readonly R[]
  selected: number
  offset: number
  height: number
  width: number
  empty: string
}

/** A scrolling table cut to the terminal width; the selected row is inverse. Renders only. */
export function Table<R>({ columns, rows, selected, offset, height, width, empty }: TableProps<R>) {
  const placed = fitColumns(columns, width, rows)
  const visible = rows.slice(offset, offset + height)
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="truncate">
        {headerLine(placed)}
      </Text>
      {rows.length === 0 ? (
        <Text dimColor wrap="truncate">
          {'  '}
          {empty}
        </Text>
      ) : (
        visible.map((row, i) => {
          const isSelected = offset + i === selected
          return (
            <Text key={offset + i} inverse={isSelected} wrap="truncate">
              {isSelected ? '› ' : '  '}
              {placed.map(({ column, width: w }, j) => (
                <Text key={j} color={isSelected ? undefined : column.color?.(row)}>
                  {pad(column.cell(row), w, column.align)}
                  {j < placed.length - 1 ? ' ' : ''}
                </Text>
              ))}
            </Text>
          )
        })
      )}
    </Box>
  )
}
