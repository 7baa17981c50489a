interface Pending<I, O> {
  item: I
  resolve: (out: O) => void
  reject: (err: unknown) => void
}

export interface GroupCommitOptions<I> {
  maxBatch: number
  /**
   * Statements on their way at once (each on its own connection): while one batch
   * commits, the next is already written.
   */
  maxInFlight: number
  /**
   * While a statement is on its way, the next goes only once this many items wait: a
   * statement carrying one or two items costs nearly what a full one does, so under load
   * fewer, fuller statements beat more of them (default 1).
   */
  minBatchWhileBusy?: number
  /** Items with the same key never share a batch: the later one waits for the next. */
  keyOf?: (item: I) => string | null
}

/**
 * Group commit: items submitted while writes are in flight go out together in the next
 * statement. At low load each item is written at once; under load one commit carries
 * many. Each submit resolves only once its own item is committed, so durability is that
 * of writing them one by one. `write` answers for each item, in order.
 */
export class GroupCommit<I, O> {
  private queue: Array<Pending<I, O>> = []
  private inFlight = 0

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly opts: GroupCommitOptions<I>,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      this.pump()
    })
  }

  private pump(): void {
    const busyMin = this.opts.minBatchWhileBusy ?? 1
    while (this.queue.length >= (this.inFlight === 0 ? 1 : busyMin) && this.inFlight < this.opts.maxInFlight) {
      const batch = this.take()
      this.inFlight++
      void this.flush(batch).finally(() => {
        this.inFlight--
        this.pump()
      })
    }
  }

  private take(): Array<Pending<I, O>> {
    const { maxBatch, keyOf } = this.opts
    if (!keyOf) return this.queue.splice(0, maxBatch)
    const batch: Array<Pending<I, O>> = []
    const rest: Array<Pending<I, O>> = []
    const keys = new Set<string>()
    for (const p of this.queue) {
      const key = keyOf(p.item)
      if (batch.length >= maxBatch || (key !== null && keys.has(key))) rest.push(p)
      else {
        batch.push(p)
        if (key !== null) keys.add(key)
      }
    }
    this.queue = rest
    return batch
  }

  private async flush(batch: Array<Pending<I, O>>): Promise<void> {
    try {
      const out = await this.write(batch.map((p) => p.item))
      batch.forEach((p, i) => p.resolve(out[i]!))
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err)
        return
      }
      // One item the database refuses must not fail its neighbours: write them one by one.
      for (const p of batch) await this.flush([p])
    }
  }
}
