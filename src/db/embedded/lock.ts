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

/** Linux: state and start time (clock ticks since boot) from /proc/<pid>/stat; undefined elsewhere. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0]!, start: fields[19]! }
  } catch {
    return undefined
  }
}

export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start
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
  const now = procStat(rec.pid)
  // A killed process its parent has not reaped yet is a zombie: dead all the same.
  if (now?.state === 'Z') return false
  return rec.procStart === undefined || now === undefined || now.start === rec.procStart
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

const NEXT_FILE = `${LOCK_FILE}.next`

/**
 * A long-running process that has to wait records that it is next: short commands then
 * leave the directory to it and go through it once it serves, instead of taking turns
 * ahead of it. False when another live process is next already.
 */
export function claimNext(dataDir: string, rec: OwnerRecord): boolean {
  const file = join(dataDir, NEXT_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(rec), { flag: 'wx' })
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const next = readNext(dataDir)
    if (next && (same(next, rec) || isAlive(next))) return same(next, rec)
    unlinkQuiet(file)
  }
  return false
}

/** The live process that is next, if any. */
export function readNext(dataDir: string): OwnerRecord | null {
  try {
    const next = JSON.parse(readFileSync(join(dataDir, NEXT_FILE), 'utf8')) as OwnerRecord
    return isAlive(next) ? next : null
  } catch {
    return null
  }
}

export function clearNext(dataDir: string, rec: OwnerRecord): void {
  const file = join(dataDir, NEXT_FILE)
  try {
    if (same(JSON.parse(readFileSync(file, 'utf8')) as OwnerRecord, rec)) unlinkQuiet(file)
  } catch {
    // none
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
