import type { SagaStore } from '../db/saga-store.js'
import type { Transition } from './transition.js'

interface Pending {
  transition: Transition
  resolve: (applied: boolean) => void
  reject: (err: unknown) => void
}

/**
 * Group commit for one worker: transitions submitted while writes are in flight go out
 * together in the next statement. At low load each transition is written at once; under
 * load one commit carries many sagas' transitions. A saga's next call waits for its
 * transition to be committed, so durability is unchanged.
 */
export class TransitionWriter {
  private queue: Pending[] = []
  private inFlight = 0

  /**
   * `maxInFlight` statements may be on their way at once (each on its own connection):
   * while one batch commits the next is already written, so a worker is not idle for a
   * whole round trip per batch.
   */
  constructor(
    private readonly store: SagaStore,
    readonly owner: string,
    private readonly maxBatch = 256,
    private readonly maxInFlight = 3,
  ) {}

  /** Resolves true when committed, false when the lease was lost (another worker or an operator took the saga). */
  submit(transition: Transition): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ transition, resolve, reject })
      this.pump()
    })
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.splice(0, this.maxBatch)
      this.inFlight++
      void this.write(batch).finally(() => {
        this.inFlight--
        this.pump()
      })
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    try {
      const applied = await this.store.apply(batch.map((p) => p.transition), this.owner)
      for (const p of batch) p.resolve(applied.has(p.transition.sagaId))
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err)
        return
      }
      // One bad transition must not fail its neighbours: write them one by one.
      for (const p of batch) await this.write([p])
    }
  }
}
