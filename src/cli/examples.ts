import { fileURLToPath } from 'node:url'

/** The examples that ship with the package ("files" in package.json); the same path from src/cli and dist/cli. */
export const PACKAGED_EXAMPLES_DIR = fileURLToPath(new URL('../../examples/', import.meta.url))

/** What `sagactl init` writes, under `examples/` of the directory it is given. */
export const STARTER_FILES = ['order-checkout.yaml', 'order.json'] as const

/** The pointer a "cannot read" of a definition or input file ends with. */
export const EXAMPLES_HINT = 'to write the example definition and input into ./examples, run: sagactl init'
