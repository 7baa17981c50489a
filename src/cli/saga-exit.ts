import type { Saga } from '../engine/types.js'
import { ExitCode } from '../errors.js'

/** How `saga run` and `saga wait` exit once the saga has settled: 0 completed, 5 compensated, 6 suspended, 7 failed. */
export const EXIT_BY_STATUS: Partial<Record<Saga['status'], number>> = {
  completed: ExitCode.ok,
  compensated: ExitCode.compensated,
  suspended: ExitCode.suspended,
  failed: ExitCode.failed,
}
