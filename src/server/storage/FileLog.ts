/**
 * The log kept in a file (`<dir>/events.log`) for a node started with `--db <dir>`.
 *
 * Writes: the single writer queues encoded records; one flush at a time writes everything queued
 * and then `fdatasync`s the file (group commit: appends arriving together share one sync), and
 * only then are the writes waiting on it acknowledged. Opening: the file is read back and checked
 * record by record (CRC32); a torn or corrupt tail, as a crash leaves it, is cut off. A `lock` file
 * holding the owner's pid keeps a second live node off the same directory.
 *
 * @since 0.1.0
 */
import {
  close as closeFd,
  closeSync,
  fdatasync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  fstatSync,
  readFileSync,
  rmSync,
  write as writeFd,
  writeFileSync,
  writeSync
} from "node:fs"
import { join } from "node:path"
import type { DurableCallback, Log } from "./Log.ts"
import { readBytesAt, type ScannedRecord, scanLog } from "./LogScan.ts"

/**
 * First bytes of a log file.
 *
 * @since 0.1.0
 * @category constants
 */
export const LOG_MAGIC = Buffer.from("EESDBLG1", "latin1")

/**
 * Name of the log file inside the database directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const LOG_FILE = "events.log"

/**
 * What opening a file log found.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileLogRecovery {
  /** Bytes cut from the end because the last record was torn or corrupt. */
  readonly truncatedBytes: number
}

/**
 * Counters of a file log.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileLogStats {
  /** Group commits done: one `write` + `fdatasync` each. */
  readonly syncs: number
}

const isAlive = (pid: number): boolean => {
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const takeLock = (dir: string): string => {
  const lock = join(dir, "lock")
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" })
    return lock
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
  }
  const owner = Number(readFileSync(lock, "utf8").trim())
  if (owner !== process.pid && isAlive(owner)) {
    throw new Error(`the database ${dir} is in use by process ${owner}`)
  }
  writeFileSync(lock, String(process.pid))
  return lock
}

/**
 * Options of a file log.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileLogOptions {
  /**
   * Waits this long before each flush, like a slow disk (tests use it to widen the window in which
   * a crash finds writes queued but not yet durable); default 0.
   */
  readonly flushDelayMs?: number | undefined
}

/**
 * Opens (or creates) the log in `dir`, reads back its records and cuts a torn tail.
 *
 * @since 0.1.0
 * @category constructors
 */
export const openFileLog = (
  dir: string,
  options: FileLogOptions = {}
): Log & { readonly file: string; readonly recovery: FileLogRecovery; readonly stats: () => FileLogStats } => {
  const flushDelayMs = options.flushDelayMs ?? 0
  mkdirSync(dir, { recursive: true })
  const lock = takeLock(dir)
  const path = join(dir, LOG_FILE)
  const fd = openSync(path, "a+")
  let truncatedBytes = 0
  let fresh = false
  try {
    const size = fstatSync(fd).size
    if (size < LOG_MAGIC.length) {
      // fresh (or torn before the header was complete)
      ftruncateSync(fd, 0)
      writeSync(fd, LOG_MAGIC)
      fsyncSync(fd)
      fresh = true
    } else {
      const magic = readBytesAt(fd, 0, LOG_MAGIC.length)
      if (!magic.equals(LOG_MAGIC)) throw new Error(`${path} is not an effect-esdb log`)
    }
  } catch (e) {
    closeSync(fd)
    rmSync(lock, { force: true })
    throw e
  }
  const recovery = { truncatedBytes }
  let recovered = false
  /** Scans the log in chunks (LogScan.ts) and cuts a torn tail. */
  const recover = (onRecord: ScannedRecord): number => {
    if (recovered) throw new Error("the log was already recovered")
    recovered = true
    if (fresh) return LOG_MAGIC.length
    const validLength = scanLog(fd, LOG_MAGIC.length, onRecord)
    const size = fstatSync(fd).size
    if (validLength < size) {
      truncatedBytes = size - validLength
      recovery.truncatedBytes = truncatedBytes
      ftruncateSync(fd, validLength)
      fsyncSync(fd)
    }
    return validLength
  }

  // group commit: `queued` waits for the next flush, `flushing` is being written and synced
  let queued: Array<Buffer> = []
  let queuedWaiters: Array<DurableCallback> = []
  let flushing = false
  let flushingWaiters: Array<DurableCallback> = []
  let failure: Error | undefined
  let closed = false
  let onIdle: (() => void) | undefined
  let syncs = 0

  const finish = (waiters: ReadonlyArray<DurableCallback>, error: Error | undefined) => {
    for (const w of waiters) w(error)
  }

  const flush = (): void => {
    if (flushing || queued.length === 0) {
      if (!flushing && onIdle !== undefined) onIdle()
      return
    }
    flushing = true
    const buffer = queued.length === 1 ? queued[0]! : Buffer.concat(queued)
    flushingWaiters = queuedWaiters
    queued = []
    queuedWaiters = []
    const done = (error: Error | null) => {
      if (error !== null && failure === undefined) failure = error
      const waiters = flushingWaiters
      flushingWaiters = []
      flushing = false
      finish(waiters, failure)
      flush()
    }
    if (failure !== undefined) return done(failure)
    const start = () => writeAll(0)
    const writeAll = (offset: number) => {
      writeFd(fd, buffer, offset, buffer.length - offset, null, (error, written) => {
        if (error !== null) return done(error)
        if (offset + written < buffer.length) return writeAll(offset + written)
        fdatasync(fd, (syncError) => {
          syncs++
          done(syncError)
        })
      })
    }
    if (flushDelayMs > 0) setTimeout(start, flushDelayMs)
    else start()
  }

  return {
    persistent: true,
    recover,
    file: path,
    recovery,
    stats: () => ({ syncs }),
    write: (frame) => {
      if (closed) throw new Error("the log is closed")
      if (failure !== undefined) throw failure
      queued.push(frame)
      if (queued.length === 1 && !flushing) setImmediate(flush)
    },
    failure: () => failure,
    whenDurable: (callback) => {
      if (queued.length > 0) queuedWaiters.push(callback)
      else if (flushing) flushingWaiters.push(callback)
      else callback(failure)
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve()
        closed = true
        onIdle = () => {
          onIdle = undefined
          closeFd(fd, () => {
            rmSync(lock, { force: true })
            resolve()
          })
        }
        if (!flushing && queued.length === 0) onIdle()
        else if (!flushing) flush()
      })
  }
}
