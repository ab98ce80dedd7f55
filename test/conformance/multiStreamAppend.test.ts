/**
 * The official client's v2 appends (`multiStreamAppend` over AppendSession, `appendRecords`)
 * against the embedded node reporting 26.1 (its default), and their absence on older versions:
 * what a real node answers (PROTOCOL.md §9).
 */
import { describe, expect, it } from "vitest"
import {
  AppendConsistencyViolationError,
  jsonEvent,
  binaryEvent,
  type JSONRecordedEvent,
  type KurrentDBClient,
  KurrentDBClient as Client,
  StreamTombstonedError,
  UnsupportedError,
  WrongExpectedVersionError
} from "@kurrent/kurrentdb-client"
import { startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { collect, uniqueStream, useNode } from "./_support.ts"

const rejectionOf = async (promise: Promise<unknown>): Promise<any> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected a rejection")
}

let client: KurrentDBClient

useNode({ insecure: true }, (_n, c) => {
  client = c
})

describe("multiStreamAppend (AppendSession)", () => {
  it("appends to two streams in one transaction: each stream's revision and one position", async () => {
    const a = uniqueStream("order")
    const b = uniqueStream("stock")
    const result = await client.multiStreamAppend([
      { streamName: a, expectedState: "no_stream", events: [jsonEvent({ type: "OrderPlaced", data: { n: 1 } })] },
      {
        streamName: b,
        expectedState: "any",
        events: [jsonEvent({ type: "Reserved", data: { n: 1 } }), jsonEvent({ type: "Reserved", data: { n: 2 } })]
      }
    ])
    expect(result.responses).toEqual([{ streamName: a, revision: 0n }, { streamName: b, revision: 1n }])
    const events = await collect(client.readStream(b))
    expect(events.map((e) => Number(e.event!.revision))).toEqual([0, 1])
    const last = events[1]!.event!
    expect(result.position).toBe(last.position!.commit)
  })

  it("one wrong expected state leaves every stream untouched: WrongExpectedVersionError naming that stream", async () => {
    const a = uniqueStream("atomic-a")
    const b = uniqueStream("atomic-b")
    await client.appendToStream(b, jsonEvent({ type: "Seed", data: {} }))
    const error = await rejectionOf(client.multiStreamAppend([
      { streamName: a, expectedState: "no_stream", events: [jsonEvent({ type: "X", data: {} })] },
      { streamName: b, expectedState: "no_stream", events: [jsonEvent({ type: "X", data: {} })] }
    ]))
    expect(error).toBeInstanceOf(WrongExpectedVersionError)
    const wrong = error as WrongExpectedVersionError
    expect(wrong.streamName).toBe(b)
    expect(wrong.expectedState).toBe("no_stream")
    expect(wrong.actualState).toBe(0n)
    expect(await rejectionOf(collect(client.readStream(a)))).toMatchObject({ type: "stream-not-found" })
    expect((await collect(client.readStream(b))).length).toBe(1)
  })

  it("a tombstoned stream: StreamTombstonedError, nothing written", async () => {
    const a = uniqueStream("ts-a")
    const b = uniqueStream("ts-b")
    await client.appendToStream(b, jsonEvent({ type: "Seed", data: {} }))
    await client.tombstoneStream(b)
    const error = await rejectionOf(client.multiStreamAppend([
      { streamName: a, expectedState: "any", events: [jsonEvent({ type: "X", data: {} })] },
      { streamName: b, expectedState: "any", events: [jsonEvent({ type: "X", data: {} })] }
    ]))
    expect(error).toBeInstanceOf(StreamTombstonedError)
    expect((error as StreamTombstonedError).stream).toBe(b)
    expect(await rejectionOf(collect(client.readStream(a)))).toMatchObject({ type: "stream-not-found" })
  })

  it("the same stream twice (any case) is refused, nothing written", async () => {
    const a = uniqueStream("twice")
    const error = await rejectionOf(client.multiStreamAppend([
      { streamName: a, expectedState: "any", events: [jsonEvent({ type: "X", data: {} })] },
      { streamName: a.toUpperCase(), expectedState: "any", events: [jsonEvent({ type: "X", data: {} })] }
    ]))
    expect(error.message).toMatch(/already has a different group of messages in this session/)
    expect(await rejectionOf(collect(client.readStream(a)))).toMatchObject({ type: "stream-not-found" })
  })

  it("a v1 read shows the type, content type and metadata a real node shows", async () => {
    const a = uniqueStream("v1read")
    await client.multiStreamAppend([{
      streamName: a,
      expectedState: "any",
      events: [
        jsonEvent({ type: "Json-Event", data: { x: 1 }, metadata: { user: "ada", "<tag>": "a\"b" } }),
        binaryEvent({ type: "Bin.Event", data: Buffer.from([1, 2, 3]), metadata: { k: "v" } })
      ]
    }])
    const [json, bin] = (await collect(client.readStream(a))).map((e) => e.event!)
    expect(json!.type).toBe("Json-Event")
    expect(json!.isJson).toBe(true)
    expect((json as JSONRecordedEvent).data).toEqual({ x: 1 })
    // Google.Protobuf's JsonFormatter rendering of the stored properties
    expect(json!.metadata).toEqual({ user: "ada", "<tag>": "a\"b", "$schema.name": "Json-Event", "$schema.format": "Json" })
    expect(bin!.type).toBe("Bin.Event")
    expect(bin!.isJson).toBe(false)
    expect(Buffer.from(bin!.data as Uint8Array)).toEqual(Buffer.from([1, 2, 3]))
    // the client parses the JSON: the keys in the order the node renders them
    expect(Object.entries(bin!.metadata as object)).toEqual([["k", "v"], ["$schema.format", "Bytes"], ["$schema.name", "Bin.Event"]])
  })
})

describe("appendRecords", () => {
  it("records interleaved across streams keep their order in $all; revisions per stream", async () => {
    const a = uniqueStream("rec-a")
    const b = uniqueStream("rec-b")
    const result = await client.appendRecords([
      { streamName: a, record: jsonEvent({ type: "A1", data: {} }) },
      { streamName: b, record: jsonEvent({ type: "B1", data: {} }) },
      { streamName: a, record: jsonEvent({ type: "A2", data: {} }) }
    ])
    expect(result.responses).toEqual([{ streamName: a, revision: 1n }, { streamName: b, revision: 0n }])
    const all = await collect(client.readAll({ fromPosition: "start", maxCount: 100_000 }))
    const ours = all.filter((e) => e.event?.streamId === a || e.event?.streamId === b).map((e) => e.event!.type)
    expect(ours).toEqual(["A1", "B1", "A2"])
  })

  it("a failing check aborts the transaction and every failing check is listed", async () => {
    const a = uniqueStream("chk-a")
    const b = uniqueStream("chk-b")
    const c = uniqueStream("chk-c")
    await client.appendToStream(b, [jsonEvent({ type: "S", data: {} }), jsonEvent({ type: "S", data: {} })])
    const error = await rejectionOf(client.appendRecords(
      [{ streamName: a, record: jsonEvent({ type: "X", data: {} }) }],
      [
        { type: "stream_state", streamName: b, expectedState: 0n },
        { type: "stream_state", streamName: c, expectedState: "stream_exists" }
      ]
    ))
    expect(error).toBeInstanceOf(AppendConsistencyViolationError)
    expect((error as AppendConsistencyViolationError).violations).toEqual([
      { checkIndex: 0, streamName: b, expectedState: 0n, actualState: 1n },
      { checkIndex: 1, streamName: c, expectedState: "stream_exists", actualState: "no_stream" }
    ])
    expect(await rejectionOf(collect(client.readStream(a)))).toMatchObject({ type: "stream-not-found" })
  })

  it("checks that hold let the records through", async () => {
    const a = uniqueStream("ok-a")
    const b = uniqueStream("ok-b")
    await client.appendToStream(b, jsonEvent({ type: "S", data: {} }))
    const result = await client.appendRecords(
      [{ streamName: a, record: jsonEvent({ type: "X", data: {} }) }],
      [{ type: "stream_state", streamName: b, expectedState: 0n }, { type: "stream_state", streamName: a, expectedState: "no_stream" }]
    )
    expect(result.responses).toEqual([{ streamName: a, revision: 0n }])
  })
})

describe("older versions", () => {
  it("a node reporting 25.1 has AppendSession but not AppendRecords; 24.10 neither", async () => {
    for (const [version, session, records] of [["25.1.0", true, false], ["24.10.0", false, false]] as const) {
      const node = await startEmbeddedNode({ insecure: true, version })
      const c = Client.connectionString(node.connectionString)
      try {
        const s = uniqueStream("old")
        const appended = c.multiStreamAppend([{ streamName: s, expectedState: "any", events: [jsonEvent({ type: "X", data: {} })] }])
        if (session) await appended
        else expect(await rejectionOf(appended)).toBeInstanceOf(UnsupportedError)
        const recorded = c.appendRecords([{ streamName: s, record: jsonEvent({ type: "X", data: {} }) }])
        if (records) await recorded
        else expect(await rejectionOf(recorded)).toBeInstanceOf(UnsupportedError)
      } finally {
        await c.dispose()
        await node.stop()
      }
    }
  })
})
