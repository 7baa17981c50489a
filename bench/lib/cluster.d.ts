// Types for the tests that reuse the throwaway cluster (test/helpers/standby.ts).
import type pg from 'pg'

export function findPgBin(): string | null
export function freePort(): Promise<number>

declare class Server {
  sql(database: string, text: string, params?: unknown[]): Promise<pg.QueryResult>
  freshDatabase(name: string): Promise<string>
  ensureDatabase(name: string): Promise<string>
}

export class Cluster extends Server {
  constructor(dir: string, port: number, pgbin: string, prefix: string[])
  readonly dir: string
  readonly port: number
  url(database?: string): string
  running(): boolean
  start(): void
  stop(mode?: 'fast' | 'immediate' | 'smart'): void
  restart(mode?: string, downMs?: number): Promise<void>
  waitReady(timeoutMs?: number): Promise<void>
  postmasterPid(): number | null
}

export function startCluster(opts: { dir: string; port: number; profile?: 'bench' | 'small'; fresh?: boolean; extraConf?: string }): Promise<Cluster>
