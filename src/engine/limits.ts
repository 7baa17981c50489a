// Limits that keep one participant, input or definition from wedging a saga or a worker.
// Each is documented in the README ("Limits"); change them there too.

const MiB = 1024 * 1024
const HOUR = 3_600_000
const DAY = 24 * HOUR

/** The longest start key: keys are indexed, and a btree row holds at most about 2.7 KB. */
export const MAX_KEY_LENGTH = 256
/** A step's stored output (a 2xx body, a module's return value), as JSON. */
export const MAX_OUTPUT_BYTES = MiB
/** A saga's input, as JSON: it is stored, and sent to every step. */
export const MAX_INPUT_BYTES = MiB
/** Error text kept for a step, a saga and its events. */
export const MAX_ERROR_CHARS = 2_000
/** Nesting of stored JSON: PostgreSQL and JSON.stringify both recurse, so depth must be bounded. */
export const MAX_JSON_DEPTH = 100
/** A step's per-call timeout (Node's timers stop at 2^31 ms, about 24.8 days). */
export const MAX_CALL_TIMEOUT_MS = DAY
/** Any wait before a retry: a policy's delays, a participant's Retry-After. */
export const MAX_RETRY_DELAY_MS = 7 * DAY
/** A saga's deadline, from its start. */
export const MAX_SAGA_TIMEOUT_MS = 365 * DAY

export const formatBytes = (n: number): string => (n % MiB === 0 ? `${n / MiB} MiB` : `${Math.round(n / 1024)} KiB`)
