/**
 * A plain `navigator` for as long as `pg` loads (see pg-module.ts). Imported before `pg`,
 * so that it runs first, from tsc's output and from the bundle alike.
 */
const lent = !('navigator' in globalThis)
if (lent) Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.version}` }, configurable: true, writable: true })

/** Takes the lent `navigator` back once `pg` has loaded. */
export function returnNavigator(): void {
  if (lent) delete (globalThis as { navigator?: unknown }).navigator
}
