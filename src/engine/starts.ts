import type { NewStart, SagaStore, Started } from '../db/saga-store.js'

interface Pending {
  start: NewStart
  resolve: (found: Started | undefined) => void
  reject: (err: unknown) => void
}

/**
 * Group commit for starts: starts asked for while a write is on its way go out together
 * in the next statement, one multi-row INSERT and one commit for all of them. A lone
 * start is written at once, so a single `saga start` waits for nothing; under load (an
 * HTTP server taking many requests at once) the statements and commits per start fall
 * with the load. Each start still resolves only once its own row is committed.
 */
export class StartQueue {
  private queue: Pending[] = []
  private inFlight = 0

  constructor(
    private readonly store: SagaStore,
    private readonly maxBatch = 256,
    private readonly maxInFlight = 2,
  ) {}

  submit(start: NewStart): Promise<Started | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ start, resolve, reject })
      this.pump()
    })
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.take()
      this.inFlight++
      void this.write(batch).finally(() => {
        this.inFlight--
        this.pump()
      })
    }
  }

  /** The next batch: at most `maxBatch` starts, no two with one key (the second waits for the next). */
  private take(): Pending[] {
    const batch: Pending[] = []
    const keys = new Set<string>()
    const rest: Pending[] = []
    for (const p of this.queue) {
      const key = p.start.key
      if (batch.length >= this.maxBatch || (key !== null && keys.has(key))) rest.push(p)
      else {
        batch.push(p)
        if (key !== null) keys.add(key)
      }
    }
    this.queue = rest
    return batch
  }

  private async write(batch: Pending[]): Promise<void> {
    try {
      const found = await this.store.insertMany(batch.map((p) => p.start))
      batch.forEach((p, i) => p.resolve(found[i]))
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err)
        return
      }
      // One start the database refuses must not fail its neighbours: write them one by one.
      for (const p of batch) await this.write([p])
    }
  }
}
