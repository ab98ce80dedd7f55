/**
 * The log kept in a file (`<dir>/events.log`) for a node started with `--db <dir>`.
 *
 * Writes: the single writer queues encoded records; one flush at a time writes everything queued
 * and then `fdatasync`s the file (group commit: appends arriving together share one sync), and
 * only then are the writes waiting on it acknowledged; a failed write or sync (a full disk) stops
 * the log for good, is logged and reported through `onFailure`. Opening: the node takes an OS-level
 * exclusive lock on the file for its whole life (LogLock.ts); the records are read back in chunks
 * and checked frame by frame (CRC32, LogScan.ts): a torn tail, as a crash leaves it, is cut and
 * logged; a damaged range followed by valid records is refused ({@link LogDamagedError}), or
 * salvaged with `salvage` (moved aside to a file of its own, logged). `<dir>/lock` holds the owner's
 * pid for people and error messages only: it is not the lock.
 *
 * @since 0.1.0
 */
import {
  close as closeFd,
  closeSync,
  existsSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  write as writeFd,
  writeFileSync,
  writeSync
} from "node:fs"
import { join } from "node:path"
import type { DurableCallback, Log } from "./Log.ts"
import { type LogLock, lockFile } from "./LogLock.ts"
import { type LogDamage, type ScannedRecord, scanLog } from "./LogScan.ts"
import { encodePadding, MIN_FRAME_SIZE, type StoredRecord } from "./RecordCodec.ts"

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
 * Name of the file a scavenge writes the new log to before it replaces `events.log` (Scavenge.ts);
 * one left by a crash is deleted when the log opens.
 *
 * @since 0.1.0
 * @category constants
 */
export const SCAVENGE_FILE = `${LOG_FILE}.scavenge`

/**
 * The log file is damaged in its middle: a range cannot be read and valid records follow it.
 * Nothing was cut; the node does not start until the directory is restored or salvaged.
 *
 * @since 0.1.0
 * @category errors
 */
export class LogDamagedError extends Error {
  /** The log file. */
  readonly path: string
  /** The first damaged range found. */
  readonly damage: LogDamage
  /** Where `--salvage` would move the damaged bytes. */
  readonly asidePath: string
  constructor(path: string, damage: LogDamage, size: number, asidePath: string) {
    super(
      `${path} is damaged at offset ${damage.offset}: ${damage.end - damage.offset} bytes cannot be read (${damage.reason})` +
        ` and valid records follow them from offset ${damage.end} to ${size}. This is not a torn tail, so nothing was cut.` +
        ` Restore the directory from a backup, or start the node with --salvage (option salvage: true) to keep every` +
        ` intact record and move the damaged bytes to ${asidePath}.`
    )
    this.name = "LogDamagedError"
    this.path = path
    this.damage = damage
    this.asidePath = asidePath
  }
}

/**
 * What opening a file log found (complete once its records were read).
 *
 * @since 0.1.0
 * @category models
 */
export interface FileLogRecovery {
  /** Bytes cut from the end because the last commit was torn. */
  readonly truncatedBytes: number
  /** Damaged ranges moved aside by a salvage: where they were and the file that now holds them. */
  readonly salvaged: ReadonlyArray<LogDamage & { readonly asidePath: string }>
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

/**
 * The write function of a file log (`fs.write`'s signature): a seam for tests that fail writes as
 * a full disk does.
 *
 * @since 0.1.0
 * @category models
 */
export type LogWrite = (
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
  callback: (error: NodeJS.ErrnoException | null, written: number) => void
) => void

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
  /**
   * Keep the intact records of a log damaged in its middle: each damaged range is copied to
   * `events.log.damaged-<offset>` and replaced in place by padding (offsets stay as they were).
   * Default false: such a log is refused with {@link LogDamagedError}.
   */
  readonly salvage?: boolean | undefined
  /** Where every cut, salvage and storage failure is reported; default: stderr. */
  readonly logger?: ((message: string) => void) | undefined
  /** Called once when a write or sync fails (the log then refuses every later write). */
  readonly onFailure?: ((error: Error) => void) | undefined
  /** Replaces `fs.write` (tests: a full disk). */
  readonly write?: LogWrite | undefined
}

/**
 * A log kept in a file.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileLog extends Log {
  /**
   * The records of the file with their frame's offset and length, read in chunks, once: reading
   * them is what checks the file, cuts a torn tail or salvages (see LogScan.ts), and writes are
   * refused until they have been read. `recovered` is the same records without offsets.
   */
  readonly entries: Iterable<ScannedRecord>
  /** The log file (`<dir>/events.log`). */
  readonly file: string
  /** What reading the records found (complete once they have been read). */
  readonly recovery: FileLogRecovery
  readonly stats: () => FileLogStats
  /** Queues a frame; returns the file offset it will be written at. */
  readonly write: (frame: Buffer) => number
  /**
   * Puts another file under the log (a scavenge: Scavenge.ts). Flushes are held (writes queue,
   * nothing is written) and, once none is running, `swap` is called with the open file and the
   * end of its durable bytes, which stay as they are until `swap` ends. `swap` makes the new file
   * (synced, renamed over `events.log`, locked before the rename) and calls `commit` with it, its
   * lock and the end of its durable bytes: from then on the log writes there (the frames queued
   * meanwhile after those bytes: `commit` answers how far their offsets moved), the old file is
   * closed and its lock released. Flushes go on when `swap` ends; if it fails before `commit`,
   * nothing changed.
   */
  readonly replaceFile: (
    swap: (fd: number, durableEnd: number, commit: (replaced: ReplacedFile) => number) => Promise<void>
  ) => Promise<void>
}

/**
 * What {@link FileLog.replaceFile}'s `swap` answers.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplacedFile {
  readonly fd: number
  readonly end: number
  readonly lock: LogLock
}

const defaultLogger = (message: string) => process.stderr.write(`[effect-esdb] ${message}\n`)

const PID_FILE = "lock"

const pidFileDetail = (dir: string) => () => {
  try {
    const owner = Number(readFileSync(join(dir, PID_FILE), "utf8").trim())
    return Number.isInteger(owner) && owner > 0 ? ` (process ${owner}, as ${join(dir, PID_FILE)} says)` : ""
  } catch {
    return ""
  }
}

const fsyncDir = (dir: string) => {
  const fd = openSync(dir, "r")
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Copies `[from, to)` of `fd` to a new file `aside`, synced. */
const copyAside = (fd: number, from: number, to: number, aside: string) => {
  const out = openSync(aside, "wx")
  try {
    const buffer = Buffer.allocUnsafe(Math.min(to - from, 8 * 1024 * 1024))
    for (let at = from; at < to;) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, to - at), at)
      if (read === 0) break
      writeFullSync(out, buffer.subarray(0, read))
      at += read
    }
    fsyncSync(out)
  } finally {
    closeSync(out)
  }
}

const writeFullSync = (fd: number, buffer: Buffer, position?: number) => {
  for (let done = 0; done < buffer.length;) {
    done += writeSync(fd, buffer, done, buffer.length - done, position === undefined ? null : position + done)
  }
}

/** Replaces `[from, to)` by padding frames (each at most 64 MiB, none shorter than a frame). */
const padInPlace = (fd: number, from: number, to: number) => {
  for (let at = from; at < to;) {
    let size = Math.min(to - at, PADDING_PIECE)
    if (to - at - size > 0 && to - at - size < MIN_FRAME_SIZE) size -= MIN_FRAME_SIZE
    writeFullSync(fd, encodePadding(size), at)
    at += size
  }
  fsyncSync(fd)
}

const PADDING_PIECE = 64 * 1024 * 1024

/**
 * Opens (or creates) the log in `dir` and takes its OS lock (LogLock.ts); its records are read, and
 * the file checked, through `entries`/`recovered`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const openFileLog = async (dir: string, options: FileLogOptions = {}): Promise<FileLog> => {
  const flushDelayMs = options.flushDelayMs ?? 0
  const logger = options.logger ?? defaultLogger
  const writeFile: LogWrite = options.write ?? writeFd
  mkdirSync(dir, { recursive: true })
  const path = join(dir, LOG_FILE)
  closeSync(openSync(path, "a"))
  let lock = await lockFile(path, pidFileDetail(dir))
  // the pid file only informs (the lock is the OS lock): whatever it said before is replaced
  writeFileSync(join(dir, PID_FILE), String(process.pid))
  // a scavenge's new log that a crash left before it replaced the log: never the log
  const leftover = join(dir, SCAVENGE_FILE)
  if (existsSync(leftover)) {
    rmSync(leftover, { force: true })
    logger(`${leftover}: deleted, the unfinished copy of a scavenge interrupted by a crash (${path} is whole)`)
  }
  let fd = -1
  let size = 0
  try {
    fd = openSync(path, "r+")
    size = fstatSync(fd).size
    if (size < LOG_MAGIC.length) {
      // fresh (or torn before the header was complete)
      if (size > 0) logger(`${path}: cut ${size} bytes (a header torn by a crash while the log was created)`)
      ftruncateSync(fd, 0)
      writeFullSync(fd, LOG_MAGIC, 0)
      fsyncSync(fd)
      size = LOG_MAGIC.length
    } else {
      const magic = Buffer.alloc(LOG_MAGIC.length)
      readSync(fd, magic, 0, magic.length, 0)
      if (!magic.equals(LOG_MAGIC)) throw new Error(`${path} is not an effect-esdb log`)
    }
  } catch (e) {
    if (fd >= 0) closeSync(fd)
    rmSync(join(dir, PID_FILE), { force: true })
    await lock.release()
    throw e
  }

  // `end`: where the next queued frame goes; `flushed`: where the next flush writes (a failed write
  // may leave part of a commit after it, which the next start cuts as a torn tail)
  let end = size
  let flushed = size
  let read = size === LOG_MAGIC.length
  let truncatedBytes = 0
  const salvaged: Array<LogDamage & { readonly asidePath: string }> = []

  const onDamage = (damage: LogDamage) => {
    const asidePath = join(dir, `${LOG_FILE}.damaged-${damage.offset}`)
    if (options.salvage !== true) throw new LogDamagedError(path, damage, size, asidePath)
    copyAside(fd, damage.offset, damage.end, asidePath)
    fsyncDir(dir)
    padInPlace(fd, damage.offset, damage.end)
    salvaged.push({ ...damage, asidePath })
    logger(
      `${path}: salvaged: ${damage.end - damage.offset} damaged bytes at offset ${damage.offset} (${damage.reason})` +
        ` moved to ${asidePath} and replaced by padding; the records before and after them are kept`
    )
  }

  function* entries(): Generator<ScannedRecord, void, undefined> {
    if (read) return
    const scan = yield* scanLog(fd, { from: LOG_MAGIC.length, size, onDamage })
    if (scan.validEnd < size) {
      truncatedBytes = size - scan.validEnd
      ftruncateSync(fd, scan.validEnd)
      fsyncSync(fd)
      logger(`${path}: cut ${truncatedBytes} bytes at offset ${scan.validEnd}, a torn tail (${scan.reason})`)
    }
    end = scan.validEnd
    flushed = end
    read = true
  }
  let taken = false
  const once = (): Generator<ScannedRecord, void, undefined> => {
    if (taken) throw new Error(`the records of ${path} were already read`)
    taken = true
    return entries()
  }
  function* recovered(): Generator<StoredRecord, void, undefined> {
    for (const entry of once()) yield entry.record
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
  /** A file replacement waiting for the running flush to end. */
  let pendingSwap: (() => void) | undefined
  /** Flushes are held while a file replacement runs. */
  let held = false

  const fail = (error: Error) => {
    failure = error
    logger(`${path}: a write failed (${error.message}): the log refuses every later write`)
    options.onFailure?.(error)
  }

  const finish = (waiters: ReadonlyArray<DurableCallback>, error: Error | undefined) => {
    for (const w of waiters) w(error)
  }

  const flush = (): void => {
    if (held) return
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
      if (error !== null && failure === undefined) fail(error)
      const waiters = flushingWaiters
      flushingWaiters = []
      flushing = false
      finish(waiters, failure)
      if (pendingSwap !== undefined) {
        const swap = pendingSwap
        pendingSwap = undefined
        swap()
      }
      flush()
    }
    if (failure !== undefined) return done(failure)
    const at = flushed
    const start = () => writeAll(0)
    const writeAll = (offset: number) => {
      writeFile(fd, buffer, offset, buffer.length - offset, at + offset, (error, written) => {
        if (error !== null) return done(error)
        if (offset + written < buffer.length) return writeAll(offset + written)
        flushed += buffer.length
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
    recovered: { [Symbol.iterator]: recovered },
    entries: { [Symbol.iterator]: once },
    file: path,
    get recovery() {
      return { truncatedBytes, salvaged }
    },
    stats: () => ({ syncs }),
    write: (frame) => {
      if (closed) throw new Error("the log is closed")
      if (failure !== undefined) throw failure
      if (!read) throw new Error(`the records of ${path} must be read before writing`)
      const at = end
      end += frame.length
      queued.push(frame)
      if (queued.length === 1 && !flushing) setImmediate(flush)
      return at
    },
    replaceFile: (swap) =>
      new Promise<void>((resolve, reject) => {
        if (closed || failure !== undefined || held) return reject(failure ?? new Error("the log is closed or being replaced"))
        held = true
        const release = () => {
          held = false
          flush()
        }
        const run = () => {
          if (closed || failure !== undefined) {
            release()
            return reject(failure ?? new Error("the log is closed"))
          }
          const commit = (replaced: ReplacedFile): number => {
            const delta = replaced.end - flushed
            const oldFd = fd
            const oldLock = lock
            fd = replaced.fd
            lock = replaced.lock
            flushed = replaced.end
            end += delta
            closeFd(oldFd, () => {})
            void oldLock.release()
            return delta
          }
          swap(fd, flushed, commit).then(
            () => {
              release()
              resolve()
            },
            (error) => {
              release()
              reject(error)
            }
          )
        }
        if (flushing) pendingSwap = run
        else run()
      }),
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
            rmSync(join(dir, PID_FILE), { force: true })
            lock.release().then(resolve, resolve)
          })
        }
        if (!flushing && queued.length === 0) onIdle()
        else if (!flushing) flush()
      })
  }
}
