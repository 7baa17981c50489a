import { randomUUID } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { SagaStore } from '../../src/db/saga-store.js'
import type { Transition } from '../../src/engine/transition.js'
import { TransitionWriter } from '../../src/engine/writer.js'
import { useTestDatabase } from '../helpers/db.js'

/** A transition for a saga no one holds: the statement runs and applies nothing. */
function transition(): Transition {
  return {
    sagaId: randomUUID(),
    saga: { status: 'running', stepIndex: 1, stepName: 'b', due: 'keep', release: false, lastError: null },
    steps: [],
    events: [{ type: 'step.started', step: 'b', phase: 'action', attempt: 1 }],
  }
}

describe('the transition writer', () => {
  const t = useTestDatabase('pglite')

  async function statementsWhileOneIsOnItsWay(concurrency: number, waiting: number): Promise<number[]> {
    const store = new SagaStore(t.db)
    const apply = vi.spyOn(store, 'apply')
    const writer = new TransitionWriter(store, 'w-batch', { concurrency })
    const all = [writer.submit(transition())]
    for (let i = 0; i < waiting; i++) all.push(writer.submit(transition()))
    const sentAtOnce = apply.mock.calls.map((c) => c[0].length)
    expect(await Promise.all(all)).toEqual(all.map(() => false))
    return sentAtOnce
  }

  it('sends a second statement while one is on its way only once half its concurrency waits (at least 8)', async () => {
    // At c32: 12 waiting wait for the first statement; 16 go at once.
    expect(await statementsWhileOneIsOnItsWay(32, 12)).toEqual([1])
    expect(await statementsWhileOneIsOnItsWay(32, 16)).toEqual([1, 16])
    // At c8 the floor of 8 holds.
    expect(await statementsWhileOneIsOnItsWay(8, 7)).toEqual([1])
    expect(await statementsWhileOneIsOnItsWay(8, 8)).toEqual([1, 8])
  })
})
