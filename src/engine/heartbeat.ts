import type { SagaStore } from '../db/saga-store.js'

/**
 * Renews the leases `owner` holds on `ids()` every third of the lease, so a call longer
 * than the lease never lets another holder take the saga over (SPEC 3.6). Returns the stop.
 */
export function keepLeases(store: SagaStore, owner: string, ids: () => string[], leaseMs: number, onError: (err: unknown) => void = () => {}): () => void {
  const timer = setInterval(() => void store.renewLeases(owner, ids(), leaseMs).catch(onError), Math.max(50, Math.floor(leaseMs / 3)))
  timer.unref()
  return () => clearInterval(timer)
}
