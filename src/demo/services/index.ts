// Starts the six order-checkout services of the demo (seed 004) as real HTTP servers on
// loopback, and hands back what the demo needs to drive and judge them.

import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { checkConsistency, type ServiceStates } from './consistency.js'
import { customerService } from './customer.js'
import { createServiceServer, type ServiceDefinition } from './harness.js'
import { inventoryService } from './inventory.js'
import { notificationService } from './notification.js'
import { orderService } from './order.js'
import { paymentService } from './payment.js'
import { pointsService } from './points.js'
import {
  SERVICE_NAMES,
  type CallRecord,
  type ConsistencyReport,
  type SagaOutcome,
  type ServiceName,
  type StartOptions,
  type Tunables,
} from './types.js'

export * from './types.js'
export { CUSTOMERS, PRODUCTS, makeOrderInput } from './catalog.js'
export { pointsFor } from './points.js'
export type { ServiceStates } from './consistency.js'

export const DEFAULT_TUNABLES: Tunables = { failureRate: 0, flakyRate: 0, latency: 0, compensationFailureRate: 0, seed: 1 }

/** The env var each service's base URL is published under; examples/order-checkout.yaml reads them. */
export const DEMO_ENV_VARS: Record<ServiceName, string> = {
  customer: 'DEMO_CUSTOMER_URL',
  inventory: 'DEMO_INVENTORY_URL',
  order: 'DEMO_ORDER_URL',
  payment: 'DEMO_PAYMENT_URL',
  points: 'DEMO_POINTS_URL',
  notification: 'DEMO_NOTIFICATION_URL',
}

export interface DemoServices {
  /** Base URL of each service, e.g. `http://127.0.0.1:41234`, no trailing slash. */
  urls: Record<ServiceName, string>
  /** Every call any service received, in arrival-completion order. Shared, live. */
  calls: CallRecord[]
  /** A deep copy of every service's state. */
  snapshot(): ServiceStates
  /** Compare the engine's view of each saga with what the services did. */
  checkConsistency(outcomes: readonly SagaOutcome[]): ConsistencyReport
  /** Change tunables while running (all services, or one), e.g. to let a stuck compensation succeed. */
  tune(change: Partial<Tunables>, service?: ServiceName): void
  close(): Promise<void>
}

export async function startServices(opts: StartOptions = {}): Promise<DemoServices> {
  const host = opts.host ?? '127.0.0.1'
  const base: Tunables = { ...DEFAULT_TUNABLES, ...pickTunables(opts) }
  validateTunables(base)
  const perService = new Map<ServiceName, Tunables>()
  for (const name of SERVICE_NAMES) {
    const t = { ...base, ...(opts.overrides?.[name] ?? {}) }
    validateTunables(t)
    perService.set(name, t)
  }

  const calls: CallRecord[] = []
  const services = {
    customer: customerService(),
    inventory: inventoryService(opts.initialStock ?? 100_000),
    order: orderService(),
    payment: paymentService(opts.initialBalance ?? 1_000_000),
    points: pointsService(),
    notification: notificationService(),
  } satisfies Record<ServiceName, ServiceDefinition>

  const servers: Server[] = []
  const urls = {} as Record<ServiceName, string>
  try {
    for (const [i, name] of SERVICE_NAMES.entries()) {
      const server = createServiceServer(services[name], calls, () => perService.get(name) ?? base)
      servers.push(server)
      const port = await listen(server, host, opts.basePort === undefined ? 0 : opts.basePort + i)
      urls[name] = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer))
    throw err
  }

  const snapshot = (): ServiceStates => ({
    customer: services.customer.snapshot() as ServiceStates['customer'],
    inventory: services.inventory.snapshot() as ServiceStates['inventory'],
    order: services.order.snapshot() as ServiceStates['order'],
    payment: services.payment.snapshot() as ServiceStates['payment'],
    points: services.points.snapshot() as ServiceStates['points'],
    notification: services.notification.snapshot() as ServiceStates['notification'],
  })

  let closed: Promise<void> | undefined
  return {
    urls,
    calls,
    snapshot,
    checkConsistency: (outcomes) => checkConsistency(snapshot(), calls, outcomes),
    tune: (change, service) => {
      for (const name of service ? [service] : SERVICE_NAMES) {
        const next = { ...(perService.get(name) ?? base), ...stripUndefined(change) }
        validateTunables(next)
        perService.set(name, next)
      }
    },
    close: () => (closed ??= Promise.all(servers.map(closeServer)).then(() => undefined)),
  }
}

/** The env map for the `${env:DEMO_*_URL}` references of examples/order-checkout.yaml. */
export function demoEnv(urls: Record<ServiceName, string>): Record<string, string> {
  return Object.fromEntries(SERVICE_NAMES.map((name) => [DEMO_ENV_VARS[name], urls[name]]))
}

function pickTunables(opts: StartOptions): Partial<Tunables> {
  const { failureRate, flakyRate, latency, compensationFailureRate, seed } = opts
  return stripUndefined({ failureRate, flakyRate, latency, compensationFailureRate, seed })
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

function validateTunables(t: Tunables): void {
  for (const key of ['failureRate', 'flakyRate', 'compensationFailureRate'] as const) {
    if (!(t[key] >= 0 && t[key] <= 1)) throw new RangeError(`${key} must be between 0 and 1, got ${t[key]}`)
  }
  if (!(t.latency >= 0)) throw new RangeError(`latency must be >= 0 ms, got ${t.latency}`)
  if (!Number.isFinite(t.seed)) throw new RangeError(`seed must be a number, got ${t.seed}`)
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
    // Keep-alive sockets of the engine's http client would hold close() open.
    server.closeAllConnections()
  })
}
