/**
 * The file log on its own: group commit (writes queued together share one fsync, each callback
 * runs once its bytes are synced), recovery of whole commits only, and what a second open reads.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type FileLog, LOG_FILE, LOG_MAGIC, LogDamagedError, openFileLog } from "../../src/server/storage/FileLog.ts"
import { LogLockedError } from "../../src/server/storage/LogLock.ts"
import { encodeEmptyCommit, encodeEvent, encodePadding, FRAME_HEADER_SIZE, sealCommit } from "../../src/server/storage/RecordCodec.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "effect-esdb-filelog-"))
  dirs.push(dir)
  return dir
}

const event = (position: number, id: string) =>
  encodeEvent({
    tombstone: false,
    position,
    createdMs: 1_700_000_000_000,
    createdTicks: 17_000_000_000_000_000,
    isJson: true,
    stream: Buffer.from("s-1"),
    eventType: "Happened",
    eventId: id,
    data: Buffer.from(`{"n":${position}}`),
    customMetadata: Buffer.alloc(0)
  })

const durable = (log: FileLog) =>
  new Promise<Error | undefined>((resolve) => log.whenDurable(resolve))

const idsOf = (log: FileLog) => [...log.recovered].map((r) => (r._tag === "Event" ? r.eventId : `gap ${r.position}`))

/** A log of `n` one-event commits (ids `id-0` …), closed; returns the offset of each commit. */
const writeLog = async (dir: string, n: number): Promise<Array<number>> => {
  const log = await openFileLog(dir)
  const offsets: Array<number> = []
  for (let i = 0; i < n; i++) offsets.push(log.write(sealCommit([event(128 + i * 128, `id-${i}`)])))
  assert.isUndefined(await durable(log))
  await log.close()
  return offsets
}

const flipBit = (file: string, offset: number) => {
  const bytes = readFileSync(file)
  bytes[offset] = bytes[offset]! ^ 0x10
  writeFileSync(file, bytes)
}

describe("FileLog", () => {
  it("writes queued in the same turn share one sync; later ones get the next", async () => {
    const dir = tempDir()
    const log = await openFileLog(dir)
    const waits: Array<Promise<Error | undefined>> = []
    for (let i = 0; i < 20; i++) {
      log.write(sealCommit([event(i, `id-${i}`)]))
      waits.push(durable(log))
    }
    assert.deepStrictEqual(await Promise.all(waits), Array.from({ length: 20 }, () => undefined))
    assert.strictEqual(log.stats().syncs, 1)
    log.write(sealCommit([event(20, "id-20")]))
    await durable(log)
    assert.strictEqual(log.stats().syncs, 2)
    // nothing pending: durable at once
    let now = false
    log.whenDurable(() => (now = true))
    assert.isTrue(now)
    await log.close()

    const again = await openFileLog(dir)
    const recovered = [...again.recovered]
    assert.strictEqual(recovered.length, 21)
    assert.deepStrictEqual(recovered.map((r) => (r._tag === "Event" ? r.eventId : "")), Array.from({ length: 21 }, (_, i) => `id-${i}`))
    assert.strictEqual(again.recovery.truncatedBytes, 0)
    await again.close()
  })

  it("reads back whole commits only, and records every field", async () => {
    const dir = tempDir()
    const log = await openFileLog(dir)
    log.write(sealCommit([event(128, "a"), event(256, "b")]))
    log.write(sealCommit([encodeEmptyCommit(384, 448)]))
    log.write(sealCommit([event(448, "c"), event(512, "d")]))
    await durable(log)
    await log.close()
    const file = join(dir, LOG_FILE)
    const full = readFileSync(file)
    // cut inside the last commit's second record
    writeFileSync(file, full.subarray(0, full.length - 3))
    const logged: Array<string> = []
    const reopened = await openFileLog(dir, { logger: (line) => logged.push(line) })
    const recovered = [...reopened.recovered]
    assert.deepStrictEqual(recovered.map((r) => r._tag === "Event" ? r.eventId : `gap ${r.position}-${r.next}`), ["a", "b", "gap 384-448"])
    const first = recovered[0]!
    assert.deepStrictEqual(first, {
      _tag: "Event",
      tombstone: false,
      position: 128,
      createdMs: 1_700_000_000_000,
      createdTicks: 17_000_000_000_000_000,
      isJson: true,
      stream: Buffer.from("s-1"),
      eventType: "Happened",
      eventId: "a",
      data: Buffer.from(`{"n":128}`),
      customMetadata: Buffer.alloc(0)
    })
    assert.isAbove(reopened.recovery.truncatedBytes, 0)
    // and the cut is logged
    assert.strictEqual(logged.length, 1)
    assert.match(logged[0]!, new RegExp(`cut ${reopened.recovery.truncatedBytes} bytes at offset \\d+, a torn tail \\(a frame of \\d+ bytes with \\d+ left in the file at offset \\d+, and no valid record after it\\)$`))
    await reopened.close()
    // the cut is on disk
    assert.isBelow(readFileSync(file).length, full.length - 3)
  })

  it("refuses a file that is not a log", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, LOG_FILE), "hello, this is not a log")
    let error: unknown
    await openFileLog(dir).catch((e: unknown) => (error = e))
    assert.match(String(error), /is not an effect-esdb log/)
    // and leaves it as it was
    assert.strictEqual(readFileSync(join(dir, LOG_FILE), "utf8"), "hello, this is not a log")
  })
})

describe("FileLog: damage in the middle", () => {
  it("refuses a log with a flipped bit in its middle, naming the offset, and cuts nothing", async () => {
    const dir = tempDir()
    const offsets = await writeLog(dir, 1000)
    const file = join(dir, LOG_FILE)
    const before = readFileSync(file)
    // a bit in the data of the 500th event
    flipBit(file, offsets[500]! + 60)
    const damaged = readFileSync(file)
    const logged: Array<string> = []
    const log = await openFileLog(dir, { logger: (line) => logged.push(line) })
    let error: unknown
    try {
      for (const _ of log.recovered) {
        // reading is what checks
      }
    } catch (e) {
      error = e
    }
    await log.close()
    assert.instanceOf(error, LogDamagedError)
    const damage = (error as LogDamagedError).damage
    assert.deepStrictEqual([damage.offset, damage.end], [offsets[500], offsets[501]])
    assert.match(String(error), new RegExp(`damaged at offset ${offsets[500]}: .* checksum mismatch`))
    assert.match(String(error), /nothing was cut\. Restore the directory from a backup, or start the node with --salvage/)
    // nothing was cut or changed
    assert.deepStrictEqual(readFileSync(file), damaged)
    assert.strictEqual(damaged.length, before.length)
    assert.deepStrictEqual(logged, [])
  })

  it("salvage keeps every intact record, moves the damaged bytes aside and logs it; the next start is clean", async () => {
    const dir = tempDir()
    const offsets = await writeLog(dir, 1000)
    const file = join(dir, LOG_FILE)
    const original = readFileSync(file)
    flipBit(file, offsets[500]! + 60)
    const logged: Array<string> = []
    const log = await openFileLog(dir, { salvage: true, logger: (line) => logged.push(line) })
    const ids = idsOf(log)
    assert.deepStrictEqual(ids, Array.from({ length: 1000 }, (_, i) => `id-${i}`).filter((id) => id !== "id-500"))
    assert.strictEqual(log.recovery.salvaged.length, 1)
    const aside = log.recovery.salvaged[0]!.asidePath
    assert.strictEqual(aside, join(dir, `${LOG_FILE}.damaged-${offsets[500]}`))
    assert.strictEqual(logged.length, 1)
    assert.match(logged[0]!, new RegExp(`salvaged: ${offsets[501]! - offsets[500]!} damaged bytes at offset ${offsets[500]} \\(a checksum mismatch\\) moved to ${aside}`))
    // a write after the salvage goes after the old records
    log.write(sealCommit([event(1_000_000, "after")]))
    assert.isUndefined(await durable(log))
    await log.close()
    // the damaged bytes are kept, as they were
    const moved = readFileSync(aside)
    const expected = Buffer.from(original.subarray(offsets[500]!, offsets[501]!))
    expected[60] = expected[60]! ^ 0x10
    assert.deepStrictEqual(moved, expected)
    // offsets stay: the records after the range are where they were
    assert.deepStrictEqual(readFileSync(file).subarray(offsets[501]!, original.length), original.subarray(offsets[501]!))
    // and the next start needs no flag and logs nothing
    const again = await openFileLog(dir, { logger: (line) => logged.push(line) })
    assert.deepStrictEqual(idsOf(again), [...ids, "after"])
    await again.close()
    assert.strictEqual(logged.length, 1)
  })

  it("cuts garbage after the last commit as a torn tail, and keeps a damaged range followed by a valid record apart from it", async () => {
    const dir = tempDir()
    await writeLog(dir, 10)
    const file = join(dir, LOG_FILE)
    // a torn tail: zeros, as a file extended but not written
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(4096)]))
    const logged: Array<string> = []
    const log = await openFileLog(dir, { logger: (line) => logged.push(line) })
    assert.strictEqual(idsOf(log).length, 10)
    assert.strictEqual(log.recovery.truncatedBytes, 4096)
    await log.close()
    assert.match(logged[0]!, /cut 4096 bytes at offset \d+, a torn tail \(a frame length of 0 at offset \d+, and no valid record after it\)/)
  })
})

describe("FileLog: the OS lock", () => {
  it("refuses a second open of the same log in this process, even with the pid file deleted, and frees it on close", async () => {
    const dir = tempDir()
    const first = await openFileLog(dir)
    rmSync(join(dir, "lock"))
    let error: unknown
    await openFileLog(dir).then((l) => l.close(), (e: unknown) => (error = e))
    assert.instanceOf(error, LogLockedError)
    assert.match(String(error), /is locked by another node/)
    await first.close()
    const second = await openFileLog(dir)
    assert.deepStrictEqual(idsOf(second), [])
    await second.close()
  })

  it("is not blocked by a stale pid file naming a live unrelated process (pid 1)", async () => {
    const dir = tempDir()
    await writeLog(dir, 2)
    writeFileSync(join(dir, "lock"), "1")
    const log = await openFileLog(dir)
    assert.deepStrictEqual(idsOf(log), ["id-0", "id-1"])
    assert.strictEqual(readFileSync(join(dir, "lock"), "utf8"), String(process.pid))
    await log.close()
    assert.isFalse(existsSync(join(dir, "lock")))
  })
})

describe("FileLog: a log over 2 GiB", () => {
  it("opens, reading in chunks, with records past 2 GiB at their offsets", async () => {
    const dir = tempDir()
    const file = join(dir, LOG_FILE)
    // built sparsely: a record, 2.1 GiB of padding (64 MiB frames whose zero bodies are holes), records after it
    const first = sealCommit([event(128, "before")])
    const PIECE = 64 * 1024 * 1024
    const pieces = 33
    const padding = encodePadding(PIECE)
    const after = [sealCommit([event(1000, "after-1")]), sealCommit([event(2000, "after-2")])]
    const fd = openSync(file, "w")
    let at = 0
    const put = (bytes: Buffer) => {
      writeSync(fd, bytes, 0, bytes.length, at)
      at += bytes.length
    }
    put(LOG_MAGIC)
    put(first)
    for (let i = 0; i < pieces; i++) {
      // header and kind byte only: the rest of the body is zeros (a hole)
      writeSync(fd, padding, 0, FRAME_HEADER_SIZE + 1, at)
      at += PIECE
    }
    ftruncateSync(fd, at)
    for (const commit of after) put(commit)
    closeSync(fd)
    const size = statSync(file).size
    assert.isAbove(size, 2 ** 31)

    const log = await openFileLog(dir)
    const entries = [...log.entries]
    assert.deepStrictEqual(entries.map((e) => (e.record._tag === "Event" ? e.record.eventId : "")), ["before", "after-1", "after-2"])
    assert.deepStrictEqual(entries.map((e) => e.offset), [LOG_MAGIC.length, at - after[0]!.length - after[1]!.length, at - after[1]!.length])
    assert.strictEqual(log.recovery.truncatedBytes, 0)
    // and it grows past it
    assert.strictEqual(log.write(sealCommit([event(3000, "after-3")])), size)
    assert.isUndefined(await durable(log))
    await log.close()
    const again = await openFileLog(dir)
    assert.deepStrictEqual(idsOf(again), ["before", "after-1", "after-2", "after-3"])
    await again.close()
  }, 120_000)
})

describe("Store over a failing log", () => {
  it("reports the failure to the writes waiting on it and refuses later writes", async () => {
    const { Store } = await import("../../src/server/storage/Store.ts")
    // a log whose disk fails on the first flush
    let failure: Error | undefined
    const waiting: Array<(error: Error | undefined) => void> = []
    const failing = {
      persistent: true,
      recovered: [],
      write: () => {
        if (failure !== undefined) throw failure
        setImmediate(() => {
          failure = new Error("ENOSPC: no space left on device")
          for (const w of waiting.splice(0)) w(failure)
        })
      },
      whenDurable: (callback: (error: Error | undefined) => void) => {
        if (failure !== undefined) callback(failure)
        else waiting.push(callback)
      },
      failure: () => failure,
      close: () => Promise.resolve()
    }
    const store = new Store({ log: failing })
    const outcome = store.append("s-1", { _tag: "Any" }, [{ eventId: "e1", eventType: "T", isJson: false, data: Buffer.alloc(1), customMetadata: Buffer.alloc(0) }])
    assert.strictEqual(outcome._tag, "Success")
    const error = await new Promise<Error | undefined>((resolve) => store.whenDurable(resolve))
    assert.match(String(error), /ENOSPC/)
    assert.throws(() => store.append("s-1", { _tag: "Any" }, []), /the log failed: ENOSPC/)
    assert.throws(() => store.tombstone("s-2", { _tag: "Any" }), /the log failed/)
  })
})
