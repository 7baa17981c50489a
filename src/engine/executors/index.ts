import { callSecrets } from '../env-ref.js'
import { isHttpCall } from '../call-kind.js'
import type { Call } from '../definition.js'
import { dtmProtocol } from './dtm.js'
import { executeHttp } from './http.js'
import { executeModule } from './module.js'
import { guardOutcome, scrubberFor } from './outcome.js'
import { errorText, type CallOutcome, type ExecOptions, type StepContext } from './types.js'

export * from './types.js'
export { executeHttp, parseRetryAfter } from './http.js'
export { dtmBranchId, dtmProtocol } from './dtm.js'
export { executeModule, resolveModulePath } from './module.js'

/** Makes an outcome of `call` safe to store and print: its resolved secrets scrubbed, its text and size bounded. */
export function guardCallOutcome(call: Call, outcome: CallOutcome, env: NodeJS.ProcessEnv = process.env): CallOutcome {
  return guardOutcome(outcome, scrubberFor(isHttpCall(call) ? callSecrets(call, env) : []))
}

/** Carries out one action or compensation call. Never throws: every failure is an outcome. */
export async function executeCall(call: Call, ctx: StepContext, opts: ExecOptions): Promise<CallOutcome> {
  let outcome: CallOutcome
  try {
    outcome = isHttpCall(call)
      ? await executeHttp(call, ctx, opts, call.http.protocol === 'dtm' ? dtmProtocol : undefined)
      : await executeModule(call, ctx, opts)
  } catch (err) {
    outcome = { kind: 'transient', error: `executor error: ${errorText(err)}` }
  }
  return guardCallOutcome(call, outcome, opts.env)
}
