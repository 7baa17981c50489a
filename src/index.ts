/**
 * sagactl as a library: what a module step and an embedding program need. A module step
 * throws `SagaAbort` for a business failure (the service did nothing; not retried).
 */
export { SagaAbort } from './engine/executors/types.js'
export type { StepContext, ModuleStepContext, CallOutcome } from './engine/executors/types.js'
export { Engine } from './engine/engine.js'
export { Worker, type WorkerOptions } from './engine/worker.js'
export { openDatabase, selectDatabase } from './db/open.js'
export { migrate } from './db/migrator.js'
export type { Saga, SagaStatus, StepRecord, SagaEvent, Intervention } from './engine/types.js'
export type { SagaDefinition, StepDef } from './engine/definition.js'
