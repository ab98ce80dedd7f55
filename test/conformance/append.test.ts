/**
 * Scenario 1 — appendToStream, driven by the official client against the embedded node.
 *
 * Expected outcomes are those of a real node (PROTOCOL.md §0, §1 "Append", "BatchAppend").
 * Every behaviour is checked over both RPCs the official client can choose:
 * - BatchAppend (its default when the node advertises it in ServerFeatures),
 * - Append (the client switches to it when per-call credentials are given; on an insecure
 *   node those credentials are not sent on the wire, so the call is otherwise identical).
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "vitest"
import {
  binaryEvent,
  jsonEvent,
  type AppendToStreamOptions,
  type JSONRecordedEvent,
  type KurrentDBClient,
  WrongExpectedVersionError
} from "@kurrent/kurrentdb-client"
import { collect, useNode, rejectionOf, uniqueStream, type RunningNode } from "./_support.ts"

let node: RunningNode
let client: KurrentDBClient

useNode({ insecure: true }, (n, c) => {
  node = n
  client = c
})

const testEvents = (n: number, type = "test-event") =>
  Array.from({ length: n }, (_, i) => jsonEvent({ type, data: { index: i, text: `event ${i}` } }))

const paths: ReadonlyArray<readonly [string, Pick<AppendToStreamOptions, "credentials">]> = [
  ["BatchAppend", {}],
  ["Append", { credentials: { username: "admin", password: "changeit" } }]
]

describe.each(paths)("appendToStream over %s", (_rpc, extra) => {
  it("appends one JSON event with no_stream: revision 0, position set with commit == prepare > 0", async () => {
    const stream = uniqueStream("append-single")
    const result = await client.appendToStream(stream, jsonEvent({ type: "created", data: { a: 1 } }), {
      streamState: "no_stream",
      ...extra
    })
    expect(result.success).toBe(true)
    expect(result.nextExpectedRevision).toBe(0n)
    expect(result.position).toBeDefined()
    expect(result.position!.commit).toBe(result.position!.prepare)
    // A real node's first user event is never at log position 0 (epoch records come first).
    expect(result.position!.commit).toBeGreaterThan(0n)
  })

  it("appends many events with exact revision, stream_exists and any; revisions and positions advance", async () => {
    const stream = uniqueStream("append-many")
    const first = await client.appendToStream(stream, testEvents(1), { streamState: "no_stream", ...extra })
    expect(first.nextExpectedRevision).toBe(0n)

    const second = await client.appendToStream(stream, testEvents(5), { streamState: 0n, ...extra })
    expect(second.success).toBe(true)
    expect(second.nextExpectedRevision).toBe(5n)
    expect(second.position!.commit).toBeGreaterThan(first.position!.commit)

    const third = await client.appendToStream(stream, testEvents(2), { streamState: "stream_exists", ...extra })
    expect(third.nextExpectedRevision).toBe(7n)
    expect(third.position!.commit).toBeGreaterThan(second.position!.commit)

    const fourth = await client.appendToStream(stream, testEvents(3), { streamState: "any", ...extra })
    expect(fourth.nextExpectedRevision).toBe(10n)
    expect(fourth.position!.commit).toBeGreaterThan(third.position!.commit)

    const read = await collect(client.readStream(stream))
    expect(read.map((e) => e.event!.revision)).toEqual(Array.from({ length: 11 }, (_, i) => BigInt(i)))
    // The append result carries the position of the LAST event written.
    expect(read[10]!.event!.position).toEqual(fourth.position)
  })

  it("any on a missing stream creates it at revision 0", async () => {
    const stream = uniqueStream("append-any-new")
    const result = await client.appendToStream(stream, testEvents(3), { streamState: "any", ...extra })
    expect(result.nextExpectedRevision).toBe(2n)
  })

  it("round-trips JSON and binary data with JSON and binary custom metadata", async () => {
    const stream = uniqueStream("append-data")
    const jsonId = randomUUID()
    const binId = randomUUID()
    const bytes = new Uint8Array([0, 1, 2, 127, 128, 254, 255])
    const rawMeta = new Uint8Array([0xde, 0xad, 0xbe, 0xef]) // not JSON: must come back as bytes
    await client.appendToStream(stream, [
      jsonEvent({
        id: jsonId,
        type: "json-with-meta",
        data: { name: "Zoë", n: 42, nested: { list: [1, "two", null, true] } },
        metadata: { correlationId: "c-1", $causationId: "x" }
      }),
      binaryEvent({ id: binId, type: "binary-with-meta", data: bytes, metadata: rawMeta })
    ], { streamState: "no_stream", ...extra })

    const [json, bin] = await collect(client.readStream(stream))
    expect(json!.event!.id).toBe(jsonId)
    expect(json!.event!.type).toBe("json-with-meta")
    expect(json!.event!.isJson).toBe(true)
    expect(json!.event!.data).toEqual({ name: "Zoë", n: 42, nested: { list: [1, "two", null, true] } })
    expect(json!.event!.metadata).toEqual({ correlationId: "c-1", $causationId: "x" })

    expect(bin!.event!.id).toBe(binId)
    expect(bin!.event!.type).toBe("binary-with-meta")
    expect(bin!.event!.isJson).toBe(false)
    expect(Buffer.from(bin!.event!.data as Uint8Array).equals(Buffer.from(bytes))).toBe(true)
    expect(Buffer.from(bin!.event!.metadata as Uint8Array).equals(Buffer.from(rawMeta))).toBe(true)
  })

  it("no_stream on an existing stream → WrongExpectedVersionError{expected no_stream, actual last revision}", async () => {
    const stream = uniqueStream("wev-nostream")
    await client.appendToStream(stream, testEvents(3), { ...extra })
    const error = await rejectionOf(
      client.appendToStream(stream, testEvents(1), { streamState: "no_stream", ...extra }),
      WrongExpectedVersionError
    )
    expect(error.streamName).toBe(stream)
    expect(error.expectedState).toBe("no_stream")
    expect(error.actualState).toBe(2n)
    // nothing was written
    expect((await collect(client.readStream(stream))).length).toBe(3)
  })

  it("exact revision that is not the last → WrongExpectedVersionError{expected revision, actual last revision}", async () => {
    const stream = uniqueStream("wev-exact")
    await client.appendToStream(stream, testEvents(3), { ...extra })
    const error = await rejectionOf(
      client.appendToStream(stream, testEvents(1), { streamState: 5n, ...extra }),
      WrongExpectedVersionError
    )
    expect(error.streamName).toBe(stream)
    expect(error.expectedState).toBe(5n)
    expect(error.actualState).toBe(2n)
  })

  it("exact revision on a missing stream → WrongExpectedVersionError{actual no_stream}", async () => {
    const stream = uniqueStream("wev-exact-missing")
    const error = await rejectionOf(
      client.appendToStream(stream, testEvents(1), { streamState: 0n, ...extra }),
      WrongExpectedVersionError
    )
    expect(error.streamName).toBe(stream)
    expect(error.expectedState).toBe(0n)
    expect(error.actualState).toBe("no_stream")
  })

  it("stream_exists on a missing stream → WrongExpectedVersionError{expected stream_exists, actual no_stream}", async () => {
    const stream = uniqueStream("wev-exists-missing")
    const error = await rejectionOf(
      client.appendToStream(stream, testEvents(1), { streamState: "stream_exists", ...extra }),
      WrongExpectedVersionError
    )
    expect(error.streamName).toBe(stream)
    expect(error.expectedState).toBe("stream_exists")
    expect(error.actualState).toBe("no_stream")
  })

  it("idempotent re-append of the same event ids (no_stream) succeeds without writing", async () => {
    const stream = uniqueStream("idem-nostream")
    const events = testEvents(3)
    const first = await client.appendToStream(stream, events, { streamState: "no_stream", ...extra })
    const again = await client.appendToStream(stream, events, { streamState: "no_stream", ...extra })
    expect(again.success).toBe(true)
    expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision)
    expect((await collect(client.readStream(stream))).length).toBe(3)
  })

  it("idempotent re-append with any returns the original revision and position", async () => {
    const stream = uniqueStream("idem-any")
    const events = testEvents(2)
    const first = await client.appendToStream(stream, events, { streamState: "any", ...extra })
    const again = await client.appendToStream(stream, events, { streamState: "any", ...extra })
    expect(again.success).toBe(true)
    expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision)
    expect(again.position).toEqual(first.position)
    expect((await collect(client.readStream(stream))).length).toBe(2)
  })

  it("idempotent re-append with the original exact expected revision succeeds without writing", async () => {
    const stream = uniqueStream("idem-exact")
    await client.appendToStream(stream, testEvents(2), { ...extra })
    const events = testEvents(2)
    const first = await client.appendToStream(stream, events, { streamState: 1n, ...extra })
    expect(first.nextExpectedRevision).toBe(3n)
    const again = await client.appendToStream(stream, events, { streamState: 1n, ...extra })
    expect(again.nextExpectedRevision).toBe(3n)
    expect((await collect(client.readStream(stream))).length).toBe(4)
  })

  it("a batch mixing already-written and new ids (no_stream) → WrongExpectedVersionError", async () => {
    const stream = uniqueStream("idem-mixed")
    const events = testEvents(3)
    await client.appendToStream(stream, events, { streamState: "no_stream", ...extra })
    const mixed = [events[0]!, events[1]!, jsonEvent({ type: "new", data: {} })]
    const error = await rejectionOf(
      client.appendToStream(stream, mixed, { streamState: "no_stream", ...extra }),
      WrongExpectedVersionError
    )
    expect(error.expectedState).toBe("no_stream")
    expect(error.actualState).toBe(2n)
    expect((await collect(client.readStream(stream))).length).toBe(3)
  })

  it("handles non-ASCII stream names and event types (UTF-8 on the wire)", async () => {
    const stream = uniqueStream("ünïcødé-🙂-流")
    const type = "tÿpe-✓"
    const result = await client.appendToStream(stream, jsonEvent({ type, data: { s: "ß" } }), { ...extra })
    expect(result.nextExpectedRevision).toBe(0n)
    const [read] = await collect(client.readStream(stream))
    expect(read!.event!.streamId).toBe(stream)
    expect(read!.event!.type).toBe(type)
    expect(read!.event!.data).toEqual({ s: "ß" })
  })

  it("round-trips a 1 MiB binary event", async () => {
    const stream = uniqueStream("append-big")
    const big = new Uint8Array(1024 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
    const result = await client.appendToStream(stream, binaryEvent({ type: "big", data: big }), { ...extra })
    expect(result.nextExpectedRevision).toBe(0n)
    const [read] = await collect(client.readStream(stream))
    expect(Buffer.from(read!.event!.data as Uint8Array).equals(Buffer.from(big))).toBe(true)
  })

  it("reads back the exact event ids and types that were appended", async () => {
    const stream = uniqueStream("append-ids")
    const events = testEvents(4, "typed")
    await client.appendToStream(stream, events, { ...extra })
    const read = await collect(client.readStream(stream))
    expect(read.map((e) => e.event!.id)).toEqual(events.map((e) => e.id))
    expect(read.map((e) => (e.event as JSONRecordedEvent).data)).toEqual(events.map((e) => e.data))
  })
})
