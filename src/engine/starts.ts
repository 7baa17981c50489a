import type { NewStart, SagaStore, Started } from '../db/saga-store.js'
import { GroupCommit } from './group-commit.js'

/**
 * Group commit for starts: starts asked for while a write is on its way go out together
 * in the next statement, one multi-row INSERT and one commit for all of them. A lone
 * start is written at once, so a single `saga start` waits for nothing; under load (an
 * HTTP server taking many requests at once) the statements and commits per start fall
 * with the load. Two starts with one key never share a statement (the second finds the
 * first's saga).
 */
export class StartQueue {
  private readonly group: GroupCommit<NewStart, Started | undefined>

  constructor(store: SagaStore, maxBatch = 256, maxInFlight = 2) {
    this.group = new GroupCommit((starts) => store.insertMany(starts), { maxBatch, maxInFlight, keyOf: (s) => s.key })
  }

  /** The saga written or found by its key; undefined when neither (see SagaStore.insertMany). */
  submit(start: NewStart): Promise<Started | undefined> {
    return this.group.submit(start)
  }
}
