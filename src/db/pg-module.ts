import { createRequire } from 'node:module'

type Pg = typeof import('pg')

/**
 * The `pg` module, loaded without Node's fetch implementation. To tell Cloudflare Workers
 * from Node, pg looks at `navigator.userAgent` and, when there is no `navigator` (Node 20),
 * constructs a `Response`: the first touch of that global loads all of undici, which is
 * about half of what opening a server connection costs a short command. A plain
 * `navigator` during the load answers the question first; Node 21 and later have one.
 */
function loadPg(): Pg {
  const require = createRequire(import.meta.url)
  if ('navigator' in globalThis) return require('pg') as Pg
  Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.version}` }, configurable: true, writable: true })
  try {
    return require('pg') as Pg
  } finally {
    delete (globalThis as { navigator?: unknown }).navigator
  }
}

const pg: Pg = loadPg()
export default pg
