import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Hit {
  at: number
  path: string
  status: number
  sagaId: string
}

/**
 * A real HTTP participant on loopback: answers `status(path)` (200 unless told otherwise)
 * after `delayMs`, and records every request and the most calls it had in flight at once.
 */
export class ParticipantServer {
  readonly hits: Hit[] = []
  inFlight = 0
  maxInFlight = 0
  status: (path: string) => number = () => 200
  delayMs = 0
  private server: Server | null = null
  url = ''

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        this.inFlight++
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
        const status = this.status(req.url ?? '/')
        let sagaId = ''
        try {
          sagaId = (JSON.parse(body) as { sagaId: string }).sagaId
        } catch {
          // a request without the engine's body is still a call
        }
        this.hits.push({ at: Date.now(), path: req.url ?? '/', status, sagaId })
        setTimeout(() => {
          this.inFlight--
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(status < 300 ? { ok: true } : { error: 'unavailable' }))
        }, this.delayMs)
      })
    })
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  hitsSince(t: number): Hit[] {
    return this.hits.filter((h) => h.at >= t)
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (!this.server) return r()
      this.server.closeAllConnections()
      this.server.close(() => r())
    })
  }
}

/** The largest number of hits inside any window of `ms`. */
export function maxInWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let lo = 0
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= ms) lo++
    best = Math.max(best, hi - lo + 1)
  }
  return best
}
