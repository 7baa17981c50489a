// `protocol: dtm`: an http call shaped and judged the way DTM's server does it, so a
// participant written for DTM (dtmcli's WrapHandler, the quick_start examples, the
// branch barrier) runs unchanged. From dtm-labs/dtm:
//   request  dtmsvr/trans_status.go getHTTPResult: the branch payload as the raw body,
//            query gid, trans_type, branch_id, op; Content-Type application/json
//   branch   dtmsvr/trans_type_saga.go GenBranches: branch_id = fmt.Sprintf("%02d", i+1),
//            shared by the step's action and compensation; op "action" / "compensate"
//   result   dtmcli/utils.go HTTPResp2DtmError, checked in this order:
//            425 or a body containing ONGOING    -> ask again later
//            409 or a body containing FAILURE    -> failure
//            any other status but 200            -> error, retried
//            200                                 -> success
//            getBranchResult: FAILURE fails a saga *action* only; for a compensation it
//            is an error like any other, and DTM retries it.
//   rollback trans_type_saga.go prepareToCompensate: every action that is not still
//            prepared is compensated, the failed one included (the barrier turns a
//            compensation of an action that never ran into a no-op).
// Where sagactl differs, on purpose: retries follow the step's retry policies (DTM
// retries until the global timeout), so an exhausted compensation suspends the saga for
// an operator instead of retrying forever; the step output is the 200 body.
import { renderBody } from '../body-template.js'
import { parseBody } from './http.js'
import { errorText, type CallOutcome, type HttpProtocolShape } from './types.js'

/** DTM's branch id of the step at a 0-based index: "01", "02", ..., "99", "100". */
export function dtmBranchId(index: number): string {
  return String(index + 1).padStart(2, '0')
}

export const dtmProtocol: HttpProtocolShape = {
  request(call, ctx) {
    let payload: unknown
    try {
      payload = call.http.body === undefined ? (ctx.input ?? null) : renderBody(call.http.body, ctx)
    } catch (err) {
      // The same input renders the same way on every attempt: retrying cannot help, and
      // nothing was sent, so the participant has nothing to undo.
      return { kind: 'business', error: `cannot build the request body: ${errorText(err)}` }
    }
    return {
      body: JSON.stringify(payload),
      query: {
        gid: ctx.sagaId,
        trans_type: 'saga',
        branch_id: dtmBranchId(ctx.index ?? 0),
        op: ctx.phase === 'action' ? 'action' : 'compensate',
      },
    }
  },

  classify({ status, text, error, retryAfterMs }, ctx): CallOutcome {
    const later = retryAfterMs === undefined ? {} : { retryAfterMs }
    if (status === 425 || text.includes('ONGOING')) return { kind: 'pending', error, ...later }
    if (status === 409 || text.includes('FAILURE')) {
      if (ctx.phase === 'action') return { kind: 'business', error, compensate: true }
      return { kind: 'transient', error: `${error} (a compensation that fails is retried)`, ...later }
    }
    if (status !== 200) return { kind: 'transient', error, ...later }
    return { kind: 'success', output: parseBody(text) }
  },
}
