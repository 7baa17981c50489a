import { linkSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Who owns an embedded data directory, as recorded in the directory itself. */
export interface OwnerRecord {
  pid: number
  /** When the owner took the directory (ISO 8601). */
  startedAt: string
  /** The owner's start time as the kernel counts it (Linux), so a reused pid is not taken for the owner. */
  procStart?: string
  /** The command that owns it, for messages: "worker", "saga list". */
  command: string
  /** Where it serves the database to other processes; absent while it starts, or for a short command. */
  listen?: { path: string } | { host: string; port: number }
  serves: boolean
}

export const LOCK_FILE = 'sagactl.owner'

export function lockFile(dataDir: string): string {
  return join(dataDir, LOCK_FILE)
}

/** Linux: field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined elsewhere. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** The recorded owner still runs: its pid lives and, where the kernel says, started when the record says. */
export function isAlive(rec: OwnerRecord): boolean {
  // Our own pid in a record we did not write is an earlier life of this process (a restarted container).
  if (rec.pid === process.pid) return false
  try {
    process.kill(rec.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (rec.procStart === undefined) return true
  const now = processStart(rec.pid)
  return now === undefined || now === rec.procStart
}

export function readOwner(dataDir: string): OwnerRecord | null {
  try {
    return JSON.parse(readFileSync(lockFile(dataDir), 'utf8')) as OwnerRecord
  } catch {
    return null
  }
}

function same(a: OwnerRecord | null, b: OwnerRecord): boolean {
  return a !== null && a.pid === b.pid && a.startedAt === b.startedAt
}

/**
 * Takes the directory for this process, or returns the live owner that has it. A record
 * left by a dead process is removed and the directory taken; of several processes doing
 * that at once, one wins (the removal is guarded by a file of its own, created exclusively).
 */
export function tryAcquire(dataDir: string, rec: OwnerRecord): { acquired: true } | { acquired: false; owner: OwnerRecord | null } {
  mkdirSync(dataDir, { recursive: true })
  const file = lockFile(dataDir)
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, JSON.stringify(rec))
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        // A hard link appears with all its content at once, and fails when the lock exists.
        linkSync(temp, file)
        return { acquired: true }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const owner = readOwner(dataDir)
      if (owner === null || isAlive(owner)) return { acquired: false, owner }
      removeStale(dataDir, owner)
    }
    return { acquired: false, owner: readOwner(dataDir) }
  } finally {
    unlinkSync(temp)
  }
}

function removeStale(dataDir: string, stale: OwnerRecord): void {
  const guard = `${lockFile(dataDir)}.takeover`
  let fd: number
  try {
    fd = openSync(guard, 'wx')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    // Another process is taking over; if it died doing so, its guard goes too.
    const holder = Number(readFileSafe(guard))
    if (holder && !isAlive({ pid: holder, startedAt: '', command: '', serves: false })) unlinkQuiet(guard)
    return
  }
  try {
    writeFileSync(fd, String(process.pid))
    if (same(readOwner(dataDir), stale)) unlinkQuiet(lockFile(dataDir))
  } finally {
    closeSync(fd)
    unlinkQuiet(guard)
  }
}

/** Rewrites this process's own record (e.g. once it listens). */
export function updateOwner(dataDir: string, rec: OwnerRecord): void {
  const file = lockFile(dataDir)
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, JSON.stringify(rec))
  renameSync(temp, file)
}

/** Gives the directory up, if this process still holds it. */
export function release(dataDir: string, rec: OwnerRecord): void {
  if (same(readOwner(dataDir), rec)) unlinkQuiet(lockFile(dataDir))
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // already gone
  }
}
