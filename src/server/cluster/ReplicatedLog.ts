/**
 * The log of a cluster member: its own file log (FileLog.ts), with durability that means
 * **committed in the cluster**. Positions in the cluster are byte offsets of the log file: every
 * member writes the leader's sealed commits byte for byte, so the same offset names the same
 * record on every member, and the longest common prefix of two members' files is where their
 * histories part.
 *
 * - On the leader, `write` also hands each sealed commit to the followers (`onWrite`), and
 *   `whenDurable` calls back once the commit point (`commitTo`, moved by the cluster when a
 *   majority of the voting members have the bytes durably) covers everything written so far. The
 *   store publishes a write (makes it readable) and the handlers acknowledge it only then.
 * - On a follower, the commit point is the leader's, as announced to it: what it holds beyond is
 *   durable locally but not readable yet, as a real follower indexes only what the leader says
 *   is replicated (`src/KurrentDB.Core/Services/Storage/IndexCommitterService.cs`, driven by
 *   `ReplicationTrackingMessage.ReplicatedTo`).
 *
 * @since 0.1.0
 */
import { statSync } from "node:fs"
import type { DurableCallback, Log } from "../storage/Log.ts"
import type { FileLog } from "../storage/FileLog.ts"

/**
 * A member's log, gated on the cluster's commit point.
 *
 * @since 0.1.0
 * @category models
 */
export class ReplicatedLog implements Log {
  readonly persistent = true
  readonly inner: FileLog
  /** Called with each sealed commit as it is written (the leader ships it to its followers). */
  onWrite: ((frame: Buffer, end: number) => void) | undefined
  private written: number | undefined
  private committed = 0
  private waiters: Array<{ readonly target: number; readonly callback: DurableCallback }> = []
  private stopped: Error | undefined

  constructor(inner: FileLog) {
    this.inner = inner
  }

  get recovered() {
    return this.inner.recovered
  }
  get entries() {
    return this.inner.entries
  }
  get file() {
    return this.inner.file
  }

  /** The byte offset after the last frame written (the file's size when nothing was written yet). */
  get end(): number {
    return this.written ?? statSync(this.inner.file).size
  }

  /** The cluster's commit point as this member knows it. */
  get commitPoint(): number {
    return this.committed
  }

  readonly write = (frame: Buffer): number => {
    const at = this.inner.write(frame)
    this.written = at + frame.length
    this.onWrite?.(frame, this.written)
    return at
  }

  /** Resolves once everything written so far is durable here (not yet committed in the cluster). */
  localSync(): Promise<void> {
    return new Promise((resolve, reject) => this.localDurable((error) => (error === undefined ? resolve() : reject(error))))
  }

  /** Calls back once everything written so far is durable here (not yet committed in the cluster). */
  localDurable(callback: (error: Error | undefined, end: number) => void): void {
    const end = this.end
    this.inner.whenDurable((error) => callback(error, end))
  }

  readonly whenDurable = (callback: DurableCallback): void => {
    const target = this.end
    this.inner.whenDurable((error) => {
      if (error !== undefined) return callback(error)
      if (this.stopped !== undefined) return callback(this.stopped)
      if (this.committed >= target) return callback(undefined)
      this.waiters.push({ target, callback })
    })
  }

  /** Moves the commit point (never back) and calls back the writes it now covers, in order. */
  commitTo(offset: number): void {
    if (offset <= this.committed) return
    this.committed = offset
    if (this.waiters.length === 0) return
    const ready = this.waiters.filter((w) => w.target <= offset)
    if (ready.length === 0) return
    this.waiters = this.waiters.filter((w) => w.target > offset)
    for (const w of ready) w.callback(undefined)
  }

  /**
   * This member stops being the one that can commit (it stepped down, or stops): the writes waiting
   * for the cluster are answered with `error` (never acknowledged), and so is every later one.
   */
  abandon(error: Error): void {
    this.stopped = error
    const waiting = this.waiters
    this.waiters = []
    for (const w of waiting) w.callback(error)
  }

  readonly failure = (): Error | undefined => this.inner.failure()

  readonly close = async (): Promise<void> => {
    this.abandon(this.stopped ?? new Error("the node stopped"))
    await this.inner.close()
  }
}

/**
 * A cluster member's log: its file log, gated on the cluster's commit point, handed to the cluster
 * before the store opens it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const memberLog = (cluster: { readonly onLog: (log: ReplicatedLog) => void }, fileLog: FileLog | undefined): ReplicatedLog => {
  if (fileLog === undefined) throw new Error("a cluster member needs a db directory")
  const log = new ReplicatedLog(fileLog)
  cluster.onLog(log)
  return log
}
