import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import type { Database } from '../db/types.js'
import { UsageError } from '../errors.js'
import { createApi, type ApiOptions } from './app.js'

export interface ServeOptions extends ApiOptions {
  port: number
  host: string
  /** How long a drain waits for requests in flight before closing their connections. */
  drainMs?: number
}

export interface RunningApi {
  url: string
  /** Stops accepting, answers waiting requests with what they have, lets the rest finish, closes the connections. */
  close(): Promise<void>
}

export async function serveApi(db: Database, opts: ServeOptions): Promise<RunningApi> {
  const { app, watch } = createApi(db, opts)
  const server = createAdaptorServer({ fetch: app.fetch, port: opts.port, hostname: opts.host }) as Server
  // Keep-alive connections from load balancers and clients outlive one request: idle ones close on drain.
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
        reject(new UsageError(`cannot listen on ${opts.host}:${opts.port}: ${err.code}`, 'choose another --port or --host'))
      } else reject(err)
    })
    server.listen(opts.port, opts.host, () => resolve())
  })
  // At start, so a LISTEN that cannot work (PgBouncer in transaction mode) is reported at once.
  void watch.listen()
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${host}:${address.port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      await watch.close()
      const timer = setTimeout(() => server.closeAllConnections(), opts.drainMs ?? 10_000)
      await closed
      clearTimeout(timer)
    },
  }
}
