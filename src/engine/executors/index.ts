import { isHttpCall, type Call } from '../definition.js'
import { dtmProtocol } from './dtm.js'
import { executeHttp } from './http.js'
import { executeModule } from './module.js'
import { errorText, type CallOutcome, type ExecOptions, type StepContext } from './types.js'

export * from './types.js'
export { executeHttp, parseRetryAfter } from './http.js'
export { dtmBranchId, dtmProtocol } from './dtm.js'
export { executeModule, resolveModulePath } from './module.js'

/** Carries out one action or compensation call. Never throws: every failure is an outcome. */
export async function executeCall(call: Call, ctx: StepContext, opts: ExecOptions): Promise<CallOutcome> {
  try {
    if (!isHttpCall(call)) return await executeModule(call, ctx, opts)
    return await executeHttp(call, ctx, opts, call.http.protocol === 'dtm' ? dtmProtocol : undefined)
  } catch (err) {
    return { kind: 'transient', error: `executor error: ${errorText(err)}` }
  }
}
