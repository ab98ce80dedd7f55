/**
 * The file log on its own: group commit (writes queued together share one fsync, each callback
 * runs once its bytes are synced), recovery of whole commits only, and what a second open reads.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { LOG_FILE, openFileLog } from "../../src/server/storage/FileLog.ts"
import { decodeBody, encodeEmptyCommit, encodeEvent, sealCommit, type StoredRecord } from "../../src/server/storage/RecordCodec.ts"

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

const recoverAll = (log: ReturnType<typeof openFileLog>): Array<StoredRecord> => {
  const records: Array<StoredRecord> = []
  log.recover((body) => records.push(decodeBody(body)!))
  return records
}

const durable = (log: ReturnType<typeof openFileLog>) =>
  new Promise<Error | undefined>((resolve) => log.whenDurable(resolve))

describe("FileLog", () => {
  it("writes queued in the same turn share one sync; later ones get the next", async () => {
    const dir = tempDir()
    const log = openFileLog(dir)
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

    const again = openFileLog(dir)
    const recovered = recoverAll(again)
    assert.strictEqual(recovered.length, 21)
    assert.deepStrictEqual(recovered.map((r) => (r._tag === "Event" ? r.eventId : "")), Array.from({ length: 21 }, (_, i) => `id-${i}`))
    assert.strictEqual(again.recovery.truncatedBytes, 0)
    await again.close()
  })

  it("reads back whole commits only, and records every field", async () => {
    const dir = tempDir()
    const log = openFileLog(dir)
    log.write(sealCommit([event(128, "a"), event(256, "b")]))
    log.write(sealCommit([encodeEmptyCommit(384, 448)]))
    log.write(sealCommit([event(448, "c"), event(512, "d")]))
    await durable(log)
    await log.close()
    const file = join(dir, LOG_FILE)
    const full = readFileSync(file)
    // cut inside the last commit's second record
    writeFileSync(file, full.subarray(0, full.length - 3))
    const reopened = openFileLog(dir)
    const recovered = recoverAll(reopened)
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
    await reopened.close()
    // the cut is on disk
    assert.isBelow(readFileSync(file).length, full.length - 3)
  })

  it("refuses a file that is not a log", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, LOG_FILE), "hello, this is not a log")
    assert.throws(() => openFileLog(dir), /is not an effect-esdb log/)
    // and leaves it as it was
    assert.strictEqual(readFileSync(join(dir, LOG_FILE), "utf8"), "hello, this is not a log")
  })
})

describe("Store over a failing log", () => {
  it("reports the failure to the writes waiting on it and refuses later writes", async () => {
    const { Store } = await import("../../src/server/storage/Store.ts")
    // a log whose disk fails on the first flush
    let failure: Error | undefined
    const waiting: Array<(error: Error | undefined) => void> = []
    const failing = {
      persistent: true,
      recover: () => 0,
      file: undefined,
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

describe("Store over a file log", () => {
  it("reads back from the file every field of every record as it was written, by stream and through $all", async () => {
    const { Store } = await import("../../src/server/storage/Store.ts")
    const dir = tempDir()
    const first = new Store({ log: openFileLog(dir), readCacheBytes: 0 })
    const written = [
      first.append("s-ü", { _tag: "NoStream" }, [
        { eventId: "11111111-1111-1111-1111-111111111111", eventType: "Typé", isJson: true, data: Buffer.from(`{"a":1}`), customMetadata: Buffer.from("meta") },
        { eventId: "22222222-2222-2222-2222-222222222222", eventType: "bin", isJson: false, data: Buffer.from([0, 1, 2, 255]), customMetadata: Buffer.alloc(0) },
        { eventId: "33333333-3333-3333-3333-333333333333", eventType: "empty", isJson: true, data: Buffer.alloc(0), customMetadata: Buffer.alloc(0) }
      ])
    ]
    first.tombstone("gone", { _tag: "Any" })
    assert.strictEqual(written[0]!._tag, "Success")
    await first.sync()
    const before = [...first.events("s-ü"), first.tombstoneOf("gone")!]
    // what the writer was given
    assert.deepStrictEqual(before.map((r) => [r.eventNumber, r.eventId.slice(0, 2), r.eventType, r.isJson, Buffer.from(r.data).toString("hex"), Buffer.from(r.customMetadata).toString()]), [
      [0, "11", "Typé", true, Buffer.from(`{"a":1}`).toString("hex"), "meta"],
      [1, "22", "bin", false, "000102ff", ""],
      [2, "33", "empty", true, "", ""],
      [Number.MAX_SAFE_INTEGER, before[3]!.eventId.slice(0, 2), "$streamDeleted", false, "", ""]
    ])
    assert.isTrue(before[3]!.isTombstone)
    await first.close()
    const again = new Store({ log: openFileLog(dir), readCacheBytes: 0 })
    const fields = (r: typeof before[number]) => ({
      position: r.position,
      stream: r.stream,
      streamBytes: Buffer.from(r.streamBytes),
      eventNumber: r.eventNumber,
      isTombstone: r.isTombstone,
      eventId: r.eventId,
      eventType: r.eventType,
      isJson: r.isJson,
      data: Buffer.from(r.data),
      customMetadata: Buffer.from(r.customMetadata),
      createdMs: r.createdMs,
      created: r.created
    })
    assert.deepStrictEqual([...again.events("s-ü"), again.tombstoneOf("gone")!].map(fields), before.map(fields))
    // the same records through the log cursor
    const cursor = again.log.cursor(0)
    const seen: Array<ReturnType<typeof fields>> = []
    for (let r = cursor.next(); r !== undefined; r = cursor.next()) if (r.stream === "s-ü" || r.stream === "gone") seen.push(fields(r))
    assert.deepStrictEqual(seen, before.map(fields))
    await again.close()
  })
})
