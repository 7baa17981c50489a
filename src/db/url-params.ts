import { UsageError } from '../errors.js'

export interface PoolerChoice {
  /** The URL with `pgbouncer` removed: that parameter is sagactl's, never the server's. */
  url: string
  /** `?pgbouncer=true`: no startup `options`, no named prepared statements. */
  pgbouncer: boolean
}

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off'])

/**
 * Takes `pgbouncer=…` out of a database URL's query string and leaves every other
 * parameter exactly as written (re-encoding them could change what the driver reads).
 */
export function takePoolerParam(url: string): PoolerChoice {
  const q = url.indexOf('?')
  if (q === -1) return { url, pgbouncer: false }
  const hash = url.indexOf('#', q)
  const query = url.slice(q + 1, hash === -1 ? undefined : hash)
  const tail = hash === -1 ? '' : url.slice(hash)
  let pgbouncer = false
  const kept: string[] = []
  for (const part of query.split('&')) {
    const [rawKey = '', rawValue = ''] = part.split('=', 2)
    if (decodeURIComponent(rawKey) !== 'pgbouncer') {
      if (part !== '') kept.push(part)
      continue
    }
    const value = decodeURIComponent(rawValue).toLowerCase()
    if (TRUE.has(value) || value === '') pgbouncer = true
    else if (FALSE.has(value)) pgbouncer = false
    else throw new UsageError(`invalid pgbouncer=${rawValue} in the database URL`, 'use ?pgbouncer=true or leave it out')
  }
  return { url: `${url.slice(0, q)}${kept.length > 0 ? `?${kept.join('&')}` : ''}${tail}`, pgbouncer }
}
