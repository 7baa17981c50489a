import type { SagaStore } from '../db/saga-store.js'

/**
 * Renews the leases `owner` holds on `ids()` every third of the lease, so a call longer
 * than the lease never lets another holder take the saga over (SPEC 3.6); `alsoEachBeat`
 * runs after each renewal (a worker records that it is alive). Returns the stop.
 */
export function keepLeases(
  store: SagaStore,
  owner: string,
  ids: () => string[],
  leaseMs: number,
  onError: (err: unknown) => void = () => {},
  alsoEachBeat?: () => Promise<unknown>,
): () => void {
  const beat = async () => {
    await store.renewLeases(owner, ids(), leaseMs)
    await alsoEachBeat?.()
  }
  const timer = setInterval(() => void beat().catch(onError), Math.max(50, Math.floor(leaseMs / 3)))
  timer.unref()
  return () => clearInterval(timer)
}
