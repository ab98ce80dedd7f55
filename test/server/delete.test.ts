import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import {
  allOption,
  any,
  append,
  appendOk,
  type Clients,
  connect,
  deleteStream,
  events,
  noStream,
  readAll,
  readOptions,
  revision,
  streamExists,
  streamOption,
  tombstoneStream,
  uniqueStream
} from "./helpers.ts"

describe("Delete and Tombstone", () => {
  let node: RunningNode
  let c: Clients
  beforeAll(async () => {
    node = await startEmbeddedNode()
    c = connect(node)
  })
  afterAll(async () => {
    c.close()
    await node.stop()
  })
  const readStream = (s: string) => readAll(c.streams, { options: readOptions({ streamOption: streamOption(s) }) })

  it("soft delete answers a position and hides the stream", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}, {}])
    const { response, error } = await deleteStream(c.streams, s, revision(1))
    assert.isUndefined(error)
    assert.strictEqual(response!.positionOption?.$case, "position")
    assert.deepStrictEqual((await readStream(s)).messages.map((m) => m.content?.$case), ["streamNotFound"])
    // the metastream holds {"$tb": long.MaxValue}
    const meta = events((await readStream("$$" + s)).messages)
    assert.strictEqual(meta[0]!.event!.data.toString(), '{"$tb":9223372036854775807}')
    // $all still has the old events
    const all = events((await readAll(c.streams, { options: readOptions({ streamOption: allOption("start"), countOption: { $case: "count", value: 100000n } }) })).messages)
    assert.strictEqual(all.filter((e) => e.event!.streamIdentifier!.streamName.toString() === s).length, 2)
  })

  it("appending to a soft-deleted stream continues the numbering and shows only new events", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}, {}, {}])
    await deleteStream(c.streams, s, any)
    const r = await appendOk(c.streams, s, any, [{ type: "After" }])
    assert.deepStrictEqual(r.currentRevisionOption, { $case: "currentRevision", value: 3n })
    const evs = events((await readStream(s)).messages)
    assert.deepStrictEqual(evs.map((e) => e.event!.streamRevision), [3n])
    const meta = events((await readStream("$$" + s)).messages)
    assert.deepStrictEqual(JSON.parse(meta[0]!.event!.data.toString()), { $tb: 3 })
    // like the real writer: the events first, then the re-created metadata
    assert.isTrue(meta[0]!.event!.commitPosition > evs[0]!.event!.commitPosition)
    assert.strictEqual(meta[0]!.event!.streamRevision, 1n)
  })

  it("writing metadata to a soft-deleted stream un-deletes it", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}, {}])
    await deleteStream(c.streams, s, any)
    await appendOk(c.streams, "$$" + s, any, [{ type: "$metadata", data: { $maxCount: 10 } }])
    // the written metadata, then a copy with $tb after the last event
    const meta = events((await readStream("$$" + s)).messages)
    assert.deepStrictEqual(JSON.parse(meta[0]!.event!.data.toString()), { $maxCount: 10, $tb: 2 })
    assert.strictEqual(meta[0]!.event!.streamRevision, 2n)
    const read = await readStream(s)
    assert.deepStrictEqual(read.messages, [])
    await appendOk(c.streams, s, revision(1), [{}])
    assert.deepStrictEqual(events((await readStream(s)).messages).map((e) => e.event!.streamRevision), [2n])
  })

  it("soft delete of a stream that never existed is a wrong expected version, with trailers", async () => {
    const s = uniqueStream()
    const { error } = await deleteStream(c.streams, s, any)
    assert.strictEqual(error?.code, grpc.status.FAILED_PRECONDITION)
    assert.deepStrictEqual(error?.metadata.get("exception"), ["wrong-expected-version"])
    assert.deepStrictEqual(error?.metadata.get("stream-name"), [s])
    assert.deepStrictEqual(error?.metadata.get("expected-version"), ["-2"])
    assert.deepStrictEqual(error?.metadata.get("actual-version"), ["-1"])
    assert.strictEqual(error?.details, `Delete failed due to WrongExpectedVersion. Stream: ${s}, Expected version: -2, Actual version: -1`)
  })

  it("delete with a wrong revision reports expected and actual versions", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}, {}, {}])
    const { error } = await deleteStream(c.streams, s, revision(0))
    assert.deepStrictEqual(error?.metadata.get("expected-version"), ["0"])
    assert.deepStrictEqual(error?.metadata.get("actual-version"), ["2"])
    const t = await tombstoneStream(c.streams, s, noStream)
    assert.deepStrictEqual(t.error?.metadata.get("exception"), ["wrong-expected-version"])
    assert.deepStrictEqual(t.error?.metadata.get("expected-version"), ["-1"])
    assert.deepStrictEqual(t.error?.metadata.get("actual-version"), ["2"])
    const e = await deleteStream(c.streams, uniqueStream(), streamExists)
    assert.deepStrictEqual(e.error?.metadata.get("expected-version"), ["-4"])
  })

  it("tombstone writes $streamDeleted and then everything is stream-deleted", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}])
    const { response, error } = await tombstoneStream(c.streams, s, any)
    assert.isUndefined(error)
    assert.strictEqual(response!.positionOption?.$case, "position")
    const pos = response!.positionOption?.$case === "position" ? response!.positionOption.value.commitPosition : 0n
    const all = events((await readAll(c.streams, { options: readOptions({ streamOption: allOption(pos), countOption: { $case: "count", value: 1n } }) })).messages)
    assert.strictEqual(all[0]!.event!.metadata.find((m) => m.key === "type")?.value, "$streamDeleted")
    assert.strictEqual(all[0]!.event!.streamRevision, 9223372036854775807n)
    assert.strictEqual(all[0]!.event!.metadata.find((m) => m.key === "content-type")?.value, "application/octet-stream")

    const expectDeleted = (err: grpc.ServiceError | undefined, name = s) => {
      assert.strictEqual(err?.code, grpc.status.FAILED_PRECONDITION)
      assert.strictEqual(err?.details, `Event stream '${name}' is deleted.`)
      assert.deepStrictEqual(err?.metadata.get("exception"), ["stream-deleted"])
      assert.deepStrictEqual(err?.metadata.get("stream-name"), [name])
    }
    expectDeleted((await readStream(s)).error)
    expectDeleted((await deleteStream(c.streams, s, any)).error)
    expectDeleted((await tombstoneStream(c.streams, s, any)).error)
    expectDeleted(await append(c.streams, s, any, [{}]).then(() => undefined, (e: grpc.ServiceError) => e))
    // the index writer checks only `$$s`'s own last event number: its metadata is still writable
    // (IndexWriter.CheckCommit), reading it stays stream-deleted
    const meta = await append(c.streams, "$$" + s, any, [{ type: "$metadata" }])
    assert.strictEqual(meta.result?.$case, "success")
    expectDeleted((await readStream("$$" + s)).error, "$$" + s)
  })

  it("tombstoning a stream that never existed succeeds", async () => {
    const s = uniqueStream()
    const { error } = await tombstoneStream(c.streams, s, noStream)
    assert.isUndefined(error)
    assert.strictEqual((await readStream(s)).error?.code, grpc.status.FAILED_PRECONDITION)
  })

  it("rejects malformed delete requests", async () => {
    const err = await new Promise<grpc.ServiceError | null>((resolve) => c.streams.delete({ options: { streamIdentifier: { streamName: Buffer.from("x") } } }, (e) => resolve(e)))
    assert.strictEqual(err?.code, grpc.status.INVALID_ARGUMENT)
    // no options: a real node's NullReferenceException (Streams.Delete.cs), UNKNOWN
    const err2 = await new Promise<grpc.ServiceError | null>((resolve) => c.streams.tombstone({}, (e) => resolve(e)))
    assert.strictEqual(err2?.code, grpc.status.UNKNOWN)
    const err3 = await new Promise<grpc.ServiceError | null>((resolve) => c.streams.delete({ options: { expectedStreamRevision: { $case: "any", value: {} } } }, (e) => resolve(e)))
    assert.strictEqual(err3?.code, grpc.status.UNKNOWN)
  })
})
