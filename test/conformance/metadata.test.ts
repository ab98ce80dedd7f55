/**
 * Scenario 5 — getStreamMetadata / setStreamMetadata and their effect on reads.
 *
 * Real node behaviour (PROTOCOL.md §1 "Stream metadata", "Read"): metadata is the last `$metadata`
 * event of `$$x`; `$maxCount`, `$maxAge` and `$tb` are honoured by stream reads (not by `$all`);
 * unknown keys are kept verbatim in the event. The official client writes the event with
 * `appendToStream("$$x", jsonEvent("$metadata", …))` and reads it back with a backwards read of 1.
 *
 * Not tested (official-client limitation against any server): SetStreamMetadataOptions.expectedRevision
 * is passed to appendToStream as an unknown key and ignored; metastreamRevision is the commit position.
 */
import { describe, expect, it } from "vitest"
import {
  BACKWARDS,
  END,
  jsonEvent,
  type KurrentDBClient,
  type StreamMetadata
} from "@kurrent/kurrentdb-client"
import { collect, useNode, sleep, uniqueStream, type RunningNode } from "./_support.ts"

let node: RunningNode
let client: KurrentDBClient

useNode({ insecure: true }, (n, c) => {
  node = n
  client = c
})

const events = (n: number) => Array.from({ length: n }, (_, i) => jsonEvent({ type: "e", data: { i } }))
const revisions = async (stream: string, backwards = false) =>
  (await collect(client.readStream(stream, backwards ? { direction: BACKWARDS, fromRevision: END } : {})))
    .map((e) => e.event!.revision)

describe("stream metadata", () => {
  it("a stream without metadata has none", async () => {
    const stream = uniqueStream("meta-none")
    await client.appendToStream(stream, events(1))
    const result = await client.getStreamMetadata(stream)
    expect(result.streamName).toBe(stream)
    expect(result.metadata).toBeUndefined()
    // and a missing stream also has none (the client maps StreamNotFound to "no metadata")
    const missing = await client.getStreamMetadata(uniqueStream("meta-missing"))
    expect(missing.metadata).toBeUndefined()
  })

  it("round-trips maxCount, maxAge, truncateBefore, cacheControl, acl and custom keys", async () => {
    const stream = uniqueStream("meta-roundtrip")
    const metadata: StreamMetadata = {
      maxCount: 7,
      maxAge: 3600,
      truncateBefore: 2,
      cacheControl: 15,
      acl: {
        readRoles: ["$all"],
        writeRoles: ["ops", "admin"],
        deleteRoles: ["$admins"],
        metaReadRoles: ["$all"],
        metaWriteRoles: ["$admins"]
      },
      custom: "value",
      nested: { a: [1, 2, { b: null }], flag: true }
    }
    const written = await client.setStreamMetadata(stream, metadata)
    expect(written.success).toBe(true)
    expect(written.nextExpectedRevision).toBe(0n)
    const read = await client.getStreamMetadata(stream)
    expect(read.streamName).toBe(stream)
    expect(read.metadata).toEqual(metadata)
  })

  it("the last metadata event wins; the metastream `$$x` holds it as a JSON `$metadata` event", async () => {
    const stream = uniqueStream("meta-last")
    await client.setStreamMetadata(stream, { maxCount: 1, custom: 1 })
    const second = await client.setStreamMetadata(stream, { maxCount: 2, custom: 2 })
    expect(second.nextExpectedRevision).toBe(1n)
    expect((await client.getStreamMetadata(stream)).metadata).toEqual({ maxCount: 2, custom: 2 })
    const [raw] = await collect(client.readStream(`$$${stream}`, { direction: BACKWARDS, fromRevision: END, maxCount: 1 }))
    expect(raw!.event!.type).toBe("$metadata")
    expect(raw!.event!.isJson).toBe(true)
    expect(raw!.event!.streamId).toBe(`$$${stream}`)
    expect(raw!.event!.data).toEqual({ $maxCount: 2, custom: 2 })
  })

  it("the metastream has an implicit $maxCount of 1: a forward read returns only the last metadata event", async () => {
    const stream = uniqueStream("meta-implicit")
    await client.setStreamMetadata(stream, { custom: "a" })
    await client.setStreamMetadata(stream, { custom: "b" })
    await client.setStreamMetadata(stream, { custom: "c" })
    const read = await collect(client.readStream(`$$${stream}`))
    expect(read.map((e) => e.event!.revision)).toEqual([2n])
    expect(read[0]!.event!.data).toEqual({ custom: "c" })
  })

  it("$maxCount is honoured on stream reads, forwards and backwards", async () => {
    const stream = uniqueStream("meta-maxcount")
    await client.appendToStream(stream, events(10))
    await client.setStreamMetadata(stream, { maxCount: 3 })
    expect(await revisions(stream)).toEqual([7n, 8n, 9n])
    expect(await revisions(stream, true)).toEqual([9n, 8n, 7n])
    // a read starting inside the hidden range starts at the first visible event
    const from0 = await collect(client.readStream(stream, { fromRevision: 0n, maxCount: 2 }))
    expect(from0.map((e) => e.event!.revision)).toEqual([7n, 8n])
    // new events keep the window sliding
    await client.appendToStream(stream, events(2))
    expect(await revisions(stream)).toEqual([9n, 10n, 11n])
  })

  it("truncateBefore ($tb) hides earlier events from stream reads", async () => {
    const stream = uniqueStream("meta-tb")
    await client.appendToStream(stream, events(6))
    await client.setStreamMetadata(stream, { truncateBefore: 4 })
    expect(await revisions(stream)).toEqual([4n, 5n])
    expect(await revisions(stream, true)).toEqual([5n, 4n])
  })

  it("$maxAge hides events older than the age from stream reads", async () => {
    const stream = uniqueStream("meta-maxage")
    await client.appendToStream(stream, events(3))
    await sleep(2_100)
    await client.setStreamMetadata(stream, { maxAge: 1 })
    // all three events are older than one second: the stream reads as empty (not as missing)
    expect(await revisions(stream)).toEqual([])
    await client.appendToStream(stream, events(1))
    expect(await revisions(stream)).toEqual([3n])
  })

  it("removing $maxCount (writing metadata without it) makes the events visible again", async () => {
    const stream = uniqueStream("meta-uncap")
    await client.appendToStream(stream, events(4))
    await client.setStreamMetadata(stream, { maxCount: 1 })
    expect(await revisions(stream)).toEqual([3n])
    await client.setStreamMetadata(stream, { custom: true })
    expect(await revisions(stream)).toEqual([0n, 1n, 2n, 3n])
  })
})
