/** Ink colour names for statuses: the same meaning as the CLI's tables (src/cli/render.ts). */
const STATUS_COLORS: Record<string, string> = {
  pending: 'gray',
  running: 'cyan',
  compensating: 'yellow',
  suspended: 'magenta',
  completed: 'green',
  compensated: 'yellow',
  failed: 'red',
  succeeded: 'green',
  skipped: 'gray',
}

export function statusColor(status: string): string | undefined {
  return STATUS_COLORS[status]
}
