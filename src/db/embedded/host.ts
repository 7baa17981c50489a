// The thread that holds an embedded database for its process and serves it on a local
// socket. PGlite runs its queries synchronously: on a thread of its own they no longer
// stall the process's event loop (the console, the worker's HTTP calls, the demo services).
import { unlinkSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite } from '@electric-sql/pglite'
import { EmbeddedServer } from './server.js'

export interface HostData {
  dataDir: string
  /** A unix socket path, or null for TCP on 127.0.0.1 (any free port). */
  socketPath: string | null
}

export type HostMessage = { type: 'ready'; port: number | null } | { type: 'error'; message: string } | { type: 'closed' }

const port = parentPort!
const { dataDir, socketPath } = workerData as HostData

try {
  const db = await PGlite.create(dataDir)
  const server = new EmbeddedServer(db)
  if (socketPath) {
    // Left behind by an owner that was killed; the directory's lock is ours now.
    try {
      unlinkSync(socketPath)
    } catch {
      // none
    }
  }
  const where = await server.listen(socketPath ? { path: socketPath } : { port: 0 })
  port.postMessage({ type: 'ready', port: typeof where === 'number' ? where : null } satisfies HostMessage)
  port.on('message', async (m) => {
    if (m !== 'close') return
    await server.close()
    await db.close()
    port.postMessage({ type: 'closed' } satisfies HostMessage)
  })
} catch (err) {
  port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies HostMessage)
}
