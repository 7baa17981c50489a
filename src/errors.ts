/**
 * One error hierarchy for the whole product. Each condition has a stable code and the
 * exit code SPEC.md promises; the CLI maps them in one place (src/cli/base-command.ts).
 * A user error carries a one-line message and, where useful, what to do next.
 */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  compensated: 5,
  suspended: 6,
  failed: 7,
  unhealthy: 8,
  database: 9,
  /** `compensate --batch`: the pass hit errors (the database went away, a permission was missing); cron must see it. */
  passErrors: 10,
  /** `saga wait --timeout`: the saga was neither finished nor suspended in time. */
  waitTimeout: 11,
} as const

export class SagactlError extends Error {
  readonly code: string = 'error'
  readonly exitCode: number = ExitCode.unexpected
  constructor(message: string, readonly hint?: string) {
    super(message)
    this.name = new.target.name
  }
}

export class UsageError extends SagactlError {
  override readonly code = 'usage'
  override readonly exitCode = ExitCode.usage
}

export class InvalidDefinitionError extends SagactlError {
  override readonly code = 'invalid_definition'
  override readonly exitCode = ExitCode.usage
}

export class NotFoundError extends SagactlError {
  override readonly code = 'not_found'
  override readonly exitCode = ExitCode.notFound
}

/** Why a conflict happened: the saga's state does not allow the action, or it changed meanwhile. */
export type ConflictKind = 'state' | 'changed'

/** The saga's state does not allow the action (exit 4). */
export class ConflictError extends SagactlError {
  override readonly code = 'conflict'
  override readonly exitCode = ExitCode.conflict
  readonly conflict: ConflictKind = 'state'
}

/** The saga changed after the operator looked at it (another operator, a worker): also exit 4. */
export class ChangedError extends ConflictError {
  override readonly conflict: ConflictKind = 'changed'
}

/** The kind of a conflict, also for errors that crossed a process boundary as `{code, conflict}`; null for other errors. */
export function conflictKind(err: unknown): ConflictKind | null {
  if (err instanceof ConflictError) return err.conflict
  const e = err as { code?: unknown; conflict?: unknown } | null
  if (e?.code !== 'conflict') return null
  return e.conflict === 'changed' ? 'changed' : 'state'
}

export class UnhealthyError extends SagactlError {
  override readonly code = 'unhealthy'
  override readonly exitCode = ExitCode.unhealthy
}

export class DatabaseUnreachableError extends SagactlError {
  override readonly code = 'database_unreachable'
  override readonly exitCode = ExitCode.database
}

/** The server is there but refuses the work: read-only, a missing privilege, a full disk, no free connections. */
export class DatabaseRefusedError extends SagactlError {
  override readonly code: string = 'database_refused'
  override readonly exitCode = ExitCode.database
}

/** Not migrated, migrations pending, an applied migration edited, or a database newer than the code. */
export class SchemaNotReadyError extends SagactlError {
  override readonly code = 'schema_not_ready'
  override readonly exitCode = ExitCode.database
}

/** A write reached a hot standby (SQLSTATE 25006): the command needs the primary. */
export class ReadOnlyStandbyError extends DatabaseRefusedError {
  override readonly code = 'read_only_standby'
  override readonly exitCode = ExitCode.database
}

/** LISTEN was accepted but a test notification never came back (a pooler in transaction mode). */
export class NotificationsSilentError extends SagactlError {
  override readonly code = 'notifications_silent'
  override readonly exitCode = ExitCode.database
}

/** An error as one line for a notice: the message, then what to do when it says. */
export function errorLine(err: unknown): string {
  if (err instanceof SagactlError) return `${err.message}${err.hint ? ` — ${err.hint}` : ''}`
  return err instanceof Error ? err.message : String(err)
}
