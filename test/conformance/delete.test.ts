/**
 * Scenario 4 — deleteStream (soft) and tombstoneStream (hard).
 *
 * Real node behaviour (PROTOCOL.md §1 "Delete / Tombstone", §2):
 * - soft delete: reads → stream_not_found; an append with any/no_stream/exact-last continues the
 *   numbering and reads show only the new events;
 * - delete WEV → FAILED_PRECONDITION `wrong-expected-version` with trailers stream-name,
 *   expected-version (revision, or −1/−2/−4), actual-version (−1 if none); the official client
 *   turns the trailers into BigInts;
 * - a never-written stream cannot be soft-deleted (WEV even with any);
 * - tombstone: afterwards every read/append/delete/tombstone → `stream-deleted`
 *   (StreamDeletedError); tombstoning a never-existing stream succeeds.
 */
import { describe, expect, it } from "vitest"
import {
  BACKWARDS,
  END,
  jsonEvent,
  type KurrentDBClient,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError
} from "@kurrent/kurrentdb-client"
import { collect, useNode, rejectionOf, uniqueStream, type RunningNode } from "./_support.ts"

let node: RunningNode
let client: KurrentDBClient

useNode({ insecure: true }, (n, c) => {
  node = n
  client = c
})

const events = (n: number) => Array.from({ length: n }, (_, i) => jsonEvent({ type: "e", data: { i } }))
const CREDS = { credentials: { username: "admin", password: "changeit" } } as const

describe("deleteStream (soft delete)", () => {
  it("deleteStream then readStream → StreamNotFoundError; delete returns a position", async () => {
    const stream = uniqueStream("soft")
    const appended = await client.appendToStream(stream, events(3))
    const result = await client.deleteStream(stream)
    expect(result.position).toBeDefined()
    expect(result.position!.commit).toBeGreaterThan(appended.position!.commit)
    const error = await rejectionOf(collect(client.readStream(stream)), StreamNotFoundError)
    expect(error.streamName).toBe(stream)
    await rejectionOf(collect(client.readStream(stream, { direction: BACKWARDS, fromRevision: END })), StreamNotFoundError)
  })

  it("deleteStream with the exact expected revision works", async () => {
    const stream = uniqueStream("soft-exact")
    await client.appendToStream(stream, events(3))
    await client.deleteStream(stream, { expectedRevision: 2n })
    await rejectionOf(collect(client.readStream(stream)), StreamNotFoundError)
  })

  it("append (any) after delete continues numbering; reads show only the new events", async () => {
    const stream = uniqueStream("soft-continue")
    await client.appendToStream(stream, events(3))
    await client.deleteStream(stream)
    const result = await client.appendToStream(stream, events(2))
    expect(result.nextExpectedRevision).toBe(4n)
    const read = await collect(client.readStream(stream))
    expect(read.map((e) => e.event!.revision)).toEqual([3n, 4n])
  })

  it("append with no_stream after delete also continues numbering", async () => {
    const stream = uniqueStream("soft-nostream")
    await client.appendToStream(stream, events(2))
    await client.deleteStream(stream)
    const result = await client.appendToStream(stream, events(1), { streamState: "no_stream" })
    expect(result.nextExpectedRevision).toBe(2n)
    const read = await collect(client.readStream(stream))
    expect(read.map((e) => e.event!.revision)).toEqual([2n])
  })

  it("append with the pre-delete last revision after delete continues numbering", async () => {
    const stream = uniqueStream("soft-exactlast")
    await client.appendToStream(stream, events(2))
    await client.deleteStream(stream)
    const result = await client.appendToStream(stream, events(1), { streamState: 1n })
    expect(result.nextExpectedRevision).toBe(2n)
  })

  it("delete with a wrong expected revision → WrongExpectedVersionError from the trailers", async () => {
    const stream = uniqueStream("soft-wev")
    await client.appendToStream(stream, events(3))
    const error = await rejectionOf(client.deleteStream(stream, { expectedRevision: 5n }), WrongExpectedVersionError)
    expect(error.streamName).toBe(stream)
    expect(error.expectedState).toBe(5n)
    expect(error.actualState).toBe(2n)
    // nothing was deleted
    expect((await collect(client.readStream(stream))).length).toBe(3)
  })

  it("delete with no_stream on an existing stream → WrongExpectedVersionError (expected -1)", async () => {
    const stream = uniqueStream("soft-wev-nostream")
    await client.appendToStream(stream, events(2))
    const error = await rejectionOf(client.deleteStream(stream, { expectedRevision: "no_stream" }), WrongExpectedVersionError)
    expect(error.streamName).toBe(stream)
    expect(error.expectedState).toBe(-1n)
    expect(error.actualState).toBe(1n)
  })

  it("deleting a never-written stream (any) → WrongExpectedVersionError (expected -2, actual -1)", async () => {
    const stream = uniqueStream("soft-missing")
    const error = await rejectionOf(client.deleteStream(stream), WrongExpectedVersionError)
    expect(error.streamName).toBe(stream)
    expect(error.expectedState).toBe(-2n)
    expect(error.actualState).toBe(-1n)
  })

  it("append with stream_exists to a soft-deleted stream → StreamDeletedError", async () => {
    const stream = uniqueStream("soft-exists")
    await client.appendToStream(stream, events(1))
    await client.deleteStream(stream)
    const error = await rejectionOf(
      client.appendToStream(stream, events(1), { streamState: "stream_exists" }),
      StreamDeletedError
    )
    expect(error.streamName).toBe(stream)
  })
})

describe("tombstoneStream (hard delete)", () => {
  it("tombstone then read → StreamDeletedError", async () => {
    const stream = uniqueStream("hard-read")
    await client.appendToStream(stream, events(2))
    const result = await client.tombstoneStream(stream)
    expect(result.position).toBeDefined()
    const error = await rejectionOf(collect(client.readStream(stream)), StreamDeletedError)
    expect(error.streamName).toBe(stream)
    await rejectionOf(collect(client.readStream(stream, { direction: BACKWARDS, fromRevision: END })), StreamDeletedError)
  })

  it.each([
    ["BatchAppend", {}],
    ["Append", CREDS]
  ] as const)("tombstone then append (%s) → StreamDeletedError naming the stream", async (_rpc, extra) => {
    const stream = uniqueStream("hard-append")
    await client.appendToStream(stream, events(2))
    await client.tombstoneStream(stream)
    for (const streamState of ["any", "no_stream", "stream_exists", 1n] as const) {
      const error = await rejectionOf(client.appendToStream(stream, events(1), { streamState, ...extra }), StreamDeletedError)
      expect(error.streamName).toBe(stream)
    }
  })

  it("tombstone then deleteStream / tombstoneStream again → StreamDeletedError", async () => {
    const stream = uniqueStream("hard-again")
    await client.appendToStream(stream, events(1))
    await client.tombstoneStream(stream)
    const del = await rejectionOf(client.deleteStream(stream), StreamDeletedError)
    expect(del.streamName).toBe(stream)
    const tomb = await rejectionOf(client.tombstoneStream(stream), StreamDeletedError)
    expect(tomb.streamName).toBe(stream)
  })

  it("tombstone with a wrong expected revision → WrongExpectedVersionError and nothing deleted", async () => {
    const stream = uniqueStream("hard-wev")
    await client.appendToStream(stream, events(2))
    const error = await rejectionOf(client.tombstoneStream(stream, { expectedRevision: 7n }), WrongExpectedVersionError)
    expect(error.streamName).toBe(stream)
    expect(error.expectedState).toBe(7n)
    expect(error.actualState).toBe(1n)
    expect((await collect(client.readStream(stream))).length).toBe(2)
  })

  it("tombstoning a never-existing stream succeeds, and it is deleted afterwards", async () => {
    const stream = uniqueStream("hard-missing")
    const result = await client.tombstoneStream(stream)
    expect(result.position).toBeDefined()
    await rejectionOf(collect(client.readStream(stream)), StreamDeletedError)
    await rejectionOf(client.appendToStream(stream, events(1)), StreamDeletedError)
  })

  it("a soft-deleted stream can be tombstoned", async () => {
    const stream = uniqueStream("soft-then-hard")
    await client.appendToStream(stream, events(2))
    await client.deleteStream(stream)
    await client.tombstoneStream(stream)
    await rejectionOf(collect(client.readStream(stream)), StreamDeletedError)
  })
})
