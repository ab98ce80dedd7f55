/**
 * Scenario 8 — the BatchAppend path.
 *
 * The official client asks ServerFeatures.GetSupportedMethods once; if `batchappend` is listed under
 * `event_store.client.streams.streams` it sends every append (without per-call credentials) over
 * one long-lived BatchAppend duplex stream: options + events + is_final per correlation id, split
 * into several requests above `batchAppendSize`. Errors come back in-band as google.rpc.Status
 * (PROTOCOL.md §1 "BatchAppend", §10).
 */
import { describe, expect, it } from "vitest"
import {
  jsonEvent,
  DeadlineExceededError,
  type KurrentDBClient,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError
} from "@kurrent/kurrentdb-client"
import { StreamsService } from "@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_grpc_pb.js"
import {
  APPEND_PATH,
  BATCH_APPEND_PATH,
  collect,
  grpcCallLog,
  rejectionOf,
  uniqueStream,
  type RunningNode,
  useNode,
  withClient
} from "./_support.ts"

let node: RunningNode
let client: KurrentDBClient
const log = grpcCallLog()

useNode({ insecure: true }, (n, c) => {
  node = n
  client = c
})

const events = (n: number) => Array.from({ length: n }, (_, i) => jsonEvent({ type: "e", data: { i } }))

/** The client's own (protected) feature check, as it decides between Append and BatchAppend. */
const supports = (c: KurrentDBClient, method: unknown): Promise<boolean> =>
  (c as unknown as { supports: (m: unknown) => Promise<boolean> }).supports(method)

describe("BatchAppend", () => {
  it("the node advertises BatchAppend, and the client's appends go over it", async () => {
    expect(await supports(client, StreamsService.batchAppend)).toBe(true)
    const before = log.length
    const stream = uniqueStream("batch-uses")
    const result = await client.appendToStream(stream, events(3))
    expect(result.success).toBe(true)
    expect(result.nextExpectedRevision).toBe(2n)
    expect(result.position).toBeDefined()
    const calls = log.slice(before)
    expect(calls).not.toContain(APPEND_PATH)
    // the duplex stream is opened once per client and then reused
    const second = await client.appendToStream(stream, events(1), { streamState: 2n })
    expect(second.nextExpectedRevision).toBe(3n)
    expect(log.slice(before).filter((p) => p === BATCH_APPEND_PATH).length).toBeLessThanOrEqual(1)
    expect(log).toContain(BATCH_APPEND_PATH)
  })

  it("a fresh client opens exactly one BatchAppend stream for its first appends", async () => {
    await withClient(node.connectionString, async (fresh) => {
      const before = log.length
      await fresh.appendToStream(uniqueStream("batch-fresh"), events(1))
      await fresh.appendToStream(uniqueStream("batch-fresh"), events(1))
      const calls = log.slice(before)
      expect(calls.filter((p) => p === BATCH_APPEND_PATH)).toEqual([BATCH_APPEND_PATH])
      expect(calls).not.toContain(APPEND_PATH)
    })
  })

  it("per-call credentials make the client use Append instead", async () => {
    const before = log.length
    const result = await client.appendToStream(uniqueStream("batch-creds"), events(2), {
      credentials: { username: "admin", password: "changeit" }
    })
    expect(result.nextExpectedRevision).toBe(1n)
    expect(log.slice(before)).toContain(APPEND_PATH)
  })

  it("WrongExpectedVersion arrives in-band (Status code 6 + WrongExpectedVersion detail)", async () => {
    const stream = uniqueStream("batch-wev")
    await client.appendToStream(stream, events(2))
    const before = log.length
    const error = await rejectionOf(client.appendToStream(stream, events(1), { streamState: 0n }), WrongExpectedVersionError)
    expect(log.slice(before)).not.toContain(APPEND_PATH)
    expect(error.streamName).toBe(stream)
    expect(error.expectedState).toBe(0n)
    expect(error.actualState).toBe(1n)
    // the shared duplex stream survives an in-band error
    const ok = await client.appendToStream(stream, events(1), { streamState: 1n })
    expect(ok.nextExpectedRevision).toBe(2n)
  })

  it("StreamDeleted arrives in-band and the stream survives it", async () => {
    const stream = uniqueStream("batch-deleted")
    await client.appendToStream(stream, events(1))
    await client.tombstoneStream(stream)
    const error = await rejectionOf(client.appendToStream(stream, events(1)), StreamDeletedError)
    expect(error.streamName).toBe(stream)
    const other = await client.appendToStream(uniqueStream("batch-after-deleted"), events(1))
    expect(other.success).toBe(true)
  })

  it("an expired deadline arrives in-band as Timeout (→ DeadlineExceededError) and nothing is written", async () => {
    const stream = uniqueStream("batch-deadline")
    const many = Array.from({ length: 3000 }, (_, i) => jsonEvent({ type: "late", data: { i, pad: "y".repeat(100) } }))
    await rejectionOf(client.appendToStream(stream, many, { deadline: 1 }), DeadlineExceededError)
    await rejectionOf(collect(client.readStream(stream)), StreamNotFoundError)
    // the shared duplex stream is still usable
    const ok = await client.appendToStream(stream, events(1))
    expect(ok.nextExpectedRevision).toBe(0n)
  })

  it("an append split into many requests (batchAppendSize) is committed as one write", async () => {
    const stream = uniqueStream("batch-split")
    const many = Array.from({ length: 2000 }, (_, i) => jsonEvent({ type: "chunked", data: { i, pad: "x".repeat(64) } }))
    const result = await client.appendToStream(stream, many, { batchAppendSize: 4096, streamState: "no_stream" })
    expect(result.nextExpectedRevision).toBe(1999n)
    const read = await collect(client.readStream(stream))
    expect(read.length).toBe(2000)
    expect(read.map((e) => (e.event!.data as { i: number }).i)).toEqual(many.map((_, i) => i))
    // all events of one append share the append's position range: the last one is the result's position
    expect(read[1999]!.event!.position).toEqual(result.position)
  })

  it(">100 concurrent appends to distinct streams on a fresh client all complete", async () => {
    await withClient(node.connectionString, async (fresh) => {
      const streams = Array.from({ length: 150 }, () => uniqueStream("batch-conc"))
      const results = await Promise.all(streams.map((s) => fresh.appendToStream(s, events(2), { streamState: "no_stream" })))
      expect(results.every((r) => r.success && r.nextExpectedRevision === 1n)).toBe(true)
      const positions = new Set(results.map((r) => r.position!.commit))
      expect(positions.size).toBe(150)
    })
  })

  it(">100 concurrent appends to one stream (any) get distinct revisions", async () => {
    const stream = uniqueStream("batch-conc-one")
    const results = await Promise.all(Array.from({ length: 150 }, () => client.appendToStream(stream, events(1))))
    const revisions = results.map((r) => r.nextExpectedRevision).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    expect(revisions).toEqual(Array.from({ length: 150 }, (_, i) => BigInt(i)))
    expect((await collect(client.readStream(stream))).length).toBe(150)
  })

  it("concurrent no_stream appends to the same new stream: exactly one wins, the rest get WrongExpectedVersion", async () => {
    const stream = uniqueStream("batch-race")
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, () => client.appendToStream(stream, events(1), { streamState: "no_stream" }))
    )
    const fulfilled = outcomes.filter((o) => o.status === "fulfilled")
    const rejected = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []))
    expect(fulfilled.length).toBe(1)
    expect(rejected.length).toBe(39)
    for (const reason of rejected) {
      expect(reason).toBeInstanceOf(WrongExpectedVersionError)
      expect((reason as WrongExpectedVersionError).expectedState).toBe("no_stream")
      expect((reason as WrongExpectedVersionError).actualState).toBe(0n)
    }
  })
})
