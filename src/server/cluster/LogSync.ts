/**
 * Bringing a member's log file in line with the leader's: every member's file holds the leader's
 * sealed commits byte for byte (ReplicatedLog.ts), so where two files first differ is where their
 * histories part. A member that holds a tail the leader lacks (commits it wrote or received that
 * no majority had, so none was acknowledged) cuts it at the last commit end before that point, as
 * a real node truncates its log offline before it follows a new leader (kurrent-io/KurrentDB
 * `src/KurrentDB.Core/Services/Replication/ReplicationTrackingService.cs`: "Offline truncation will
 * happen", and the truncate checkpoint applied at the next start); it then receives the leader's
 * commits from there.
 *
 * @since 0.1.0
 */
import { closeSync, ftruncateSync, fsyncSync, openSync, readSync } from "node:fs"
import { LOG_MAGIC } from "../storage/FileLog.ts"
import { FRAME_HEADER_SIZE, isCommitEnd } from "../storage/RecordCodec.ts"

const CHUNK = 1024 * 1024

const readAt = (fd: number, buffer: Buffer, length: number, at: number): number => {
  let done = 0
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, at + done)
    if (n === 0) break
    done += n
  }
  return done
}

const withFile = <A>(path: string, flags: string, f: (fd: number) => A): A => {
  const fd = openSync(path, flags)
  try {
    return f(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * The length of the longest common prefix of `a[0, aEnd)` and `b[0, bEnd)`.
 *
 * @since 0.1.0
 * @category sync
 */
export const commonPrefix = (a: string, aEnd: number, b: string, bEnd: number): number =>
  withFile(a, "r", (fa) =>
    withFile(b, "r", (fb) => {
      const end = Math.min(aEnd, bEnd)
      const x = Buffer.allocUnsafe(CHUNK)
      const y = Buffer.allocUnsafe(CHUNK)
      for (let at = 0; at < end;) {
        const n = Math.min(CHUNK, end - at)
        const got = Math.min(readAt(fa, x, n, at), readAt(fb, y, n, at))
        if (!x.subarray(0, got).equals(y.subarray(0, got))) {
          for (let k = 0; k < got; k++) if (x[k] !== y[k]) return at + k
        }
        if (got < n) return at + got
        at += n
      }
      return end
    }))

/**
 * The end of the last whole commit of `path` at or before `limit` (the file's header at least).
 *
 * @since 0.1.0
 * @category sync
 */
export const lastCommitEnd = (path: string, limit: number): number =>
  withFile(path, "r", (fd) => {
    const header = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 1)
    let at = LOG_MAGIC.length
    let last = at
    for (;;) {
      if (readAt(fd, header, header.length, at) < header.length) return last
      const end = at + FRAME_HEADER_SIZE + header.readUInt32LE(0)
      if (end > limit) return last
      if (isCommitEnd(header.subarray(FRAME_HEADER_SIZE))) last = end
      at = end
    }
  })

/**
 * Cuts `path` to `length` bytes, synced.
 *
 * @since 0.1.0
 * @category sync
 */
export const truncateLog = (path: string, length: number): void =>
  withFile(path, "r+", (fd) => {
    ftruncateSync(fd, length)
    fsyncSync(fd)
  })

/**
 * The sealed commits of `path[from, to)` (whole commits: `from` and `to` are commit ends), in order,
 * read a megabyte or a commit at a time.
 *
 * @since 0.1.0
 * @category sync
 */
export function* commitsOf(path: string, from: number, to: number): Generator<Buffer> {
  const fd = openSync(path, "r")
  try {
    let at = from
    while (at < to) {
      const want = Math.min(Math.max(CHUNK, FRAME_HEADER_SIZE), to - at)
      let buffer = Buffer.allocUnsafe(want)
      let got = readAt(fd, buffer, want, at)
      let o = 0
      let start = 0
      while (o + FRAME_HEADER_SIZE <= got) {
        const end = o + FRAME_HEADER_SIZE + buffer.readUInt32LE(o)
        if (end > got) {
          if (start > 0) break
          if (got >= to - at) throw new Error(`${path}: a commit past offset ${to} at offset ${at}`)
          // one commit larger than the buffer: read it whole
          buffer = Buffer.allocUnsafe(Math.max(end, buffer.length * 2))
          got = readAt(fd, buffer, Math.min(buffer.length, to - at), at)
          continue
        }
        const commitEnd = isCommitEnd(buffer.subarray(o + FRAME_HEADER_SIZE))
        o = end
        if (commitEnd) {
          yield Buffer.from(buffer.subarray(start, o))
          start = o
        }
      }
      if (start === 0) throw new Error(`${path}: no whole commit at offset ${at}`)
      at += start
    }
  } finally {
    closeSync(fd)
  }
}
