import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import {
  any,
  append,
  appendOk,
  appendRaw,
  type Clients,
  connect,
  deleteStream,
  events,
  type ExpectedOption,
  noStream,
  proposed,
  readAll,
  readOptions,
  revision,
  streamOption,
  streamExists,
  tombstoneStream,
  uniqueStream
} from "./helpers.ts"

const outcome = async (c: Clients, stream: string, expected: ExpectedOption, n = 1) => {
  try {
    const resp = await append(c.streams, stream, expected, Array.from({ length: n }, () => ({})))
    if (resp.result?.$case === "success") {
      const cur = resp.result.value.currentRevisionOption
      return cur?.$case === "currentRevision" ? `ok:${cur.value}` : "ok:no_stream"
    }
    return "wev"
  } catch (e) {
    const err = e as grpc.ServiceError
    return err.metadata.get("exception")[0] === "stream-deleted" ? "deleted" : `error:${err.code}`
  }
}

describe("Append", () => {
  let node: RunningNode
  let c: Clients
  beforeAll(async () => {
    node = await startEmbeddedNode({ maxAppendSize: 4096, maxAppendEventSize: 1024 })
    c = connect(node)
  })
  afterAll(async () => {
    c.close()
    await node.stop()
  })

  // the four columns of the expected-revision table
  const fresh = async () => uniqueStream("fresh")
  const live = async () => {
    const s = uniqueStream("live")
    await appendOk(c.streams, s, noStream, [{}, {}, {}]) // rev 2
    return s
  }
  const softDeleted = async () => {
    const s = await live()
    const { error } = await deleteStream(c.streams, s, any)
    assert.isUndefined(error)
    return s
  }
  const tombstoned = async () => {
    const s = await live()
    const { error } = await tombstoneStream(c.streams, s, any)
    assert.isUndefined(error)
    return s
  }

  it("expected any", async () => {
    assert.strictEqual(await outcome(c, await fresh(), any), "ok:0")
    assert.strictEqual(await outcome(c, await live(), any), "ok:3")
    assert.strictEqual(await outcome(c, await softDeleted(), any), "ok:3")
    assert.strictEqual(await outcome(c, await tombstoned(), any), "deleted")
  })

  it("expected no_stream", async () => {
    assert.strictEqual(await outcome(c, await fresh(), noStream), "ok:0")
    assert.strictEqual(await outcome(c, await live(), noStream), "wev")
    assert.strictEqual(await outcome(c, await softDeleted(), noStream), "ok:3")
    assert.strictEqual(await outcome(c, await tombstoned(), noStream), "deleted")
  })

  it("expected stream_exists", async () => {
    assert.strictEqual(await outcome(c, await fresh(), streamExists), "wev")
    assert.strictEqual(await outcome(c, await live(), streamExists), "ok:3")
    assert.strictEqual(await outcome(c, await softDeleted(), streamExists), "deleted")
    assert.strictEqual(await outcome(c, await tombstoned(), streamExists), "deleted")
    // ok when only the metastream has events
    const s = await fresh()
    await appendOk(c.streams, "$$" + s, any, [{ type: "$metadata", data: { custom: 1 } }])
    assert.strictEqual(await outcome(c, s, streamExists), "ok:0")
  })

  it("expected exact revision", async () => {
    assert.strictEqual(await outcome(c, await fresh(), revision(0)), "wev")
    assert.strictEqual(await outcome(c, await live(), revision(2)), "ok:3")
    assert.strictEqual(await outcome(c, await live(), revision(1)), "wev")
    assert.strictEqual(await outcome(c, await live(), revision(5)), "wev")
    assert.strictEqual(await outcome(c, await softDeleted(), revision(2)), "ok:3")
    assert.strictEqual(await outcome(c, await softDeleted(), revision(1)), "wev")
    assert.strictEqual(await outcome(c, await tombstoned(), revision(2)), "deleted")
  })

  it("stream-deleted carries trailers and message", async () => {
    const s = await tombstoned()
    const err = await append(c.streams, s, any, [{}]).then(() => undefined, (e: grpc.ServiceError) => e)
    assert.isDefined(err)
    assert.strictEqual(err!.code, grpc.status.FAILED_PRECONDITION)
    assert.strictEqual(err!.details, `Event stream '${s}' is deleted.`)
    assert.deepStrictEqual(err!.metadata.get("exception"), ["stream-deleted"])
    assert.deepStrictEqual(err!.metadata.get("stream-name"), [s])
  })

  it("wrong expected version fills the new and the legacy oneofs", async () => {
    const s = await live()
    const r1 = await append(c.streams, s, revision(7), [{}])
    assert.strictEqual(r1.result?.$case, "wrongExpectedVersion")
    const w1 = r1.result!.$case === "wrongExpectedVersion" ? r1.result!.value : undefined
    assert.deepStrictEqual(w1!.currentRevisionOption, { $case: "currentRevision", value: 2n })
    assert.deepStrictEqual(w1!.currentRevisionOption2060, { $case: "currentRevision2060", value: 2n })
    assert.deepStrictEqual(w1!.expectedRevisionOption, { $case: "expectedRevision", value: 7n })
    assert.deepStrictEqual(w1!.expectedRevisionOption2060, { $case: "expectedRevision2060", value: 7n })

    const r2 = await append(c.streams, s, noStream, [{}])
    const w2 = r2.result!.$case === "wrongExpectedVersion" ? r2.result!.value : undefined
    assert.deepStrictEqual(w2!.expectedRevisionOption, { $case: "expectedNoStream", value: {} })
    assert.deepStrictEqual(w2!.expectedRevisionOption2060, { $case: "expectedRevision2060", value: 18446744073709551615n })

    const f = await fresh()
    const r3 = await append(c.streams, f, streamExists, [{}])
    const w3 = r3.result!.$case === "wrongExpectedVersion" ? r3.result!.value : undefined
    assert.deepStrictEqual(w3!.currentRevisionOption, { $case: "currentNoStream", value: {} })
    assert.deepStrictEqual(w3!.currentRevisionOption2060, { $case: "noStream2060", value: {} })
    assert.deepStrictEqual(w3!.expectedRevisionOption, { $case: "expectedStreamExists", value: {} })
    assert.deepStrictEqual(w3!.expectedRevisionOption2060, { $case: "streamExists2060", value: {} })
  })

  it("is idempotent by event id", async () => {
    const s = uniqueStream()
    const ids = [randomUUID(), randomUUID()]
    const first = await appendOk(c.streams, s, noStream, ids.map((id) => ({ id })))
    // same ids, same expected: success with the original revision and position, nothing written
    const again = await appendOk(c.streams, s, noStream, ids.map((id) => ({ id })))
    assert.deepStrictEqual(again, first)
    const anyAgain = await appendOk(c.streams, s, any, ids.map((id) => ({ id })))
    assert.deepStrictEqual(anyAgain, first)
    // only some ids known: wrong expected version
    const partial = await append(c.streams, s, any, [{ id: ids[0]! }, { id: randomUUID() }])
    assert.strictEqual(partial.result?.$case, "wrongExpectedVersion")
    // nothing extra was written
    const next = await appendOk(c.streams, s, revision(1), [{}])
    assert.deepStrictEqual(next.currentRevisionOption, { $case: "currentRevision", value: 2n })
  })

  it("an empty append to a missing stream returns no_stream", async () => {
    const s = uniqueStream()
    const resp = await appendOk(c.streams, s, noStream, [])
    assert.deepStrictEqual(resp.currentRevisionOption, { $case: "noStream", value: {} })
  })

  it("requires type and content-type metadata", async () => {
    const s = uniqueStream()
    const err = await append(c.streams, s, any, [{ metadata: [{ key: "content-type", value: "application/json" }] }])
      .then(() => undefined, (e: grpc.ServiceError) => e)
    assert.strictEqual(err!.code, grpc.status.INVALID_ARGUMENT)
    assert.strictEqual(err!.details, "Required Metadata Property 'type' is missing")
    assert.deepStrictEqual(err!.metadata.get("exception"), ["missing-required-metadata-property"])
    assert.deepStrictEqual(err!.metadata.get("required-metadata-properties"), ["type,content-type"])
    const err2 = await append(c.streams, s, any, [{ metadata: [{ key: "type", value: "X" }] }])
      .then(() => undefined, (e: grpc.ServiceError) => e)
    assert.strictEqual(err2!.details, "Required Metadata Property 'content-type' is missing")
  })

  it("stores JSON iff content-type is application/json", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [
      { metadata: [{ key: "type", value: "Bin" }, { key: "content-type", value: "text/plain" }, { key: "extra", value: "x" }], rawData: Buffer.from([1, 2, 3]) },
      { type: "Json", data: { j: 1 } }
    ])
    const { messages } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(s) }) })
    const evs = events(messages)
    assert.deepStrictEqual(evs.map((e) => e.event!.metadata.find((m) => m.key === "content-type")?.value), ["application/octet-stream", "application/json"])
    assert.deepStrictEqual(evs.map((e) => e.event!.metadata.map((m) => m.key)), [["type", "created", "content-type"], ["type", "created", "content-type"]])
    assert.deepStrictEqual([...evs[0]!.event!.data], [1, 2, 3])
  })

  it("enforces the maximum event size and append size", async () => {
    const s = uniqueStream()
    const id = randomUUID()
    const err = await append(c.streams, s, any, [{ id, type: "T", rawData: Buffer.alloc(2000) }])
      .then(() => undefined, (e: grpc.ServiceError) => e)
    assert.strictEqual(err!.code, grpc.status.INVALID_ARGUMENT)
    assert.deepStrictEqual(err!.metadata.get("exception"), ["maximum-append-event-size-exceeded"])
    assert.deepStrictEqual(err!.metadata.get("maximum-append-event-size"), ["1024"])
    assert.deepStrictEqual(err!.metadata.get("proposed-append-event-size"), ["2002"])
    assert.include(err!.details, "exceeds Maximum Append Event Size of 1024.")

    const err2 = await append(c.streams, s, any, Array.from({ length: 5 }, () => ({ type: "T", rawData: Buffer.alloc(1000) })))
      .then(() => undefined, (e: grpc.ServiceError) => e)
    assert.strictEqual(err2!.code, grpc.status.INVALID_ARGUMENT)
    assert.strictEqual(err2!.details, "Maximum Append Size of 4096 Exceeded.")
    assert.deepStrictEqual(err2!.metadata.get("exception"), ["maximum-append-size-exceeded"])
    assert.deepStrictEqual(err2!.metadata.get("maximum-append-size"), ["4096"])
  })

  it("rejects malformed requests without crashing", async () => {
    const s = uniqueStream()
    const code = (p: Promise<unknown>) => p.then(() => -1, (e: grpc.ServiceError) => e.code)
    // no options first
    assert.strictEqual(await code(appendRaw(c.streams, [{ content: { $case: "proposedMessage", value: proposed() } }])), grpc.status.UNKNOWN)
    // nothing at all
    assert.strictEqual(await code(appendRaw(c.streams, [])), grpc.status.UNKNOWN)
    // missing expected revision
    assert.strictEqual(
      await code(appendRaw(c.streams, [{ content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from(s) } } } }])),
      grpc.status.INVALID_ARGUMENT
    )
    // missing stream identifier: a real node's NullReferenceException (Streams.Append.cs)
    assert.strictEqual(await code(appendRaw(c.streams, [{ content: { $case: "options", value: { expectedStreamRevision: any } } }])), grpc.status.UNKNOWN)
    // bad uuid: Uuid.FromDto throws a FormatException (Uuid.cs), UNKNOWN
    const bad = { ...proposed(), id: { value: { $case: "string" as const, value: "not-a-uuid" } } }
    assert.strictEqual(await code(appendRaw(c.streams, [
      { content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from(s) }, expectedStreamRevision: any } } },
      { content: { $case: "proposedMessage", value: bad } }
    ])), grpc.status.UNKNOWN)
    // a bad uuid on an event that is too large: the size is checked first (Streams.Append.cs)
    const badAndLarge = { ...proposed({ rawData: Buffer.alloc(2000) }), id: { value: { $case: "string" as const, value: "not-a-uuid" } } }
    assert.strictEqual(await code(appendRaw(c.streams, [
      { content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from(s) }, expectedStreamRevision: any } } },
      { content: { $case: "proposedMessage", value: badAndLarge } }
    ])), grpc.status.INVALID_ARGUMENT)
    // missing uuid: ArgumentNullException, UNKNOWN
    const { id: _id, ...noId } = proposed()
    assert.strictEqual(await code(appendRaw(c.streams, [
      { content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from(s) }, expectedStreamRevision: any } } },
      { content: { $case: "proposedMessage", value: noId } }
    ])), grpc.status.UNKNOWN)
    // options twice
    assert.strictEqual(await code(appendRaw(c.streams, [
      { content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from(s) }, expectedStreamRevision: any } } },
      { content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from(s) }, expectedStreamRevision: any } } }
    ])), grpc.status.UNKNOWN)
    // the node still works
    await appendOk(c.streams, s, any, [{}])
  })

  it("accepts structured uuids", async () => {
    const s = uniqueStream()
    const resp = await appendRaw(c.streams, [
      { content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from(s) }, expectedStreamRevision: any } } },
      { content: { $case: "proposedMessage", value: { ...proposed(), id: { value: { $case: "structured", value: { mostSignificantBits: -1n, leastSignificantBits: 5n } } } } } }
    ])
    assert.strictEqual(resp.result?.$case, "success")
  })
})
