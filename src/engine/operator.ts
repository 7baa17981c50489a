import { UsageError } from '../errors.js'
import { userInfo } from 'node:os'

/** Who an operator action is recorded as: the --operator flag, else the OS user. */
export function currentOperator(flag?: string): string {
  if (flag) return flag
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'unknown'
  }
}

/** The audit log is the record of why: a blank reason, note or operator would audit nothing. Checked before anything is read or written. */
export function refuseBlankActor(ctx: { operator: string; reason?: string; resolution?: { note: string } }): void {
  if (ctx.reason !== undefined && ctx.reason.trim() === '') throw new UsageError('the reason is empty', 'say why, for the audit log')
  if (ctx.resolution && ctx.resolution.note.trim() === '') throw new UsageError('the note is empty', 'say what you checked or did, for the audit log')
  if (ctx.operator.trim() === '') throw new UsageError('the operator is empty', 'give a name with --operator, or leave it out to use the OS user')
}
