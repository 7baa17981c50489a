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
