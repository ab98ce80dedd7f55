import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { Any } from "../../src/generated/google/protobuf/any.ts"
import { MaximumAppendSizeExceeded, StreamDeleted, WrongExpectedVersion } from "../../src/generated/shared.ts"
import type { BatchAppendReq } from "../../src/generated/streams.ts"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { appendOk, batchSession, type Clients, connect, noStream, proposed, tombstoneStream, any, uniqueStream } from "./helpers.ts"

const request = (
  stream: string,
  expected: NonNullable<BatchAppendReq["options"]>["expectedStreamPosition"],
  n: number,
  extra: Partial<BatchAppendReq> = {},
  correlation = randomUUID()
): BatchAppendReq => ({
  correlationId: { value: { $case: "string", value: correlation } },
  options: {
    streamIdentifier: { streamName: Buffer.from(stream) },
    expectedStreamPosition: expected,
    deadlineOption: { $case: "deadline21100", value: new Date(Date.now() + 10_000) }
  },
  proposedMessages: Array.from({ length: n }, () => proposed()),
  isFinal: true,
  ...extra
})

describe("BatchAppend", () => {
  let node: RunningNode
  let c: Clients
  beforeAll(async () => {
    node = await startEmbeddedNode({ maxAppendSize: 4096 })
    c = connect(node)
  })
  afterAll(async () => {
    c.close()
    await node.stop()
  })

  it("appends and echoes correlation id and stream identifier", async () => {
    const session = batchSession(c.streams)
    const s = uniqueStream()
    const corr = randomUUID()
    session.send(request(s, { $case: "noStream", value: {} }, 3, {}, corr))
    const [resp] = await session.next()
    assert.deepStrictEqual(resp!.correlationId, { value: { $case: "string", value: corr } })
    assert.strictEqual(resp!.streamIdentifier?.streamName.toString(), s)
    assert.strictEqual(resp!.result?.$case, "success")
    const success = resp!.result!.$case === "success" ? resp!.result!.value : undefined
    assert.deepStrictEqual(success!.currentRevisionOption, { $case: "currentRevision", value: 2n })
    assert.strictEqual(success!.positionOption?.$case, "position")
    const { error } = await session.end()
    assert.isUndefined(error)
  })

  it("multiplexes several appends and assembles chunks by correlation id", async () => {
    const session = batchSession(c.streams)
    const s1 = uniqueStream()
    const s2 = uniqueStream()
    const corr1 = randomUUID()
    const corr2 = randomUUID()
    // first chunk of s1, then a whole s2, then the final chunk of s1
    session.send(request(s1, { $case: "any", value: {} }, 2, { isFinal: false }, corr1))
    session.send(request(s2, { $case: "any", value: {} }, 1, {}, corr2))
    session.send({ correlationId: { value: { $case: "string", value: corr1 } }, proposedMessages: [proposed(), proposed()], isFinal: true })
    const responses = await session.next(2)
    const byCorr = new Map(responses.map((r) => [r.correlationId?.value?.$case === "string" ? r.correlationId.value.value : "", r]))
    const rev = (corr: string) => {
      const r = byCorr.get(corr)!.result
      return r?.$case === "success" && r.value.currentRevisionOption?.$case === "currentRevision" ? r.value.currentRevisionOption.value : undefined
    }
    assert.strictEqual(rev(corr1), 3n)
    assert.strictEqual(rev(corr2), 0n)
    await session.end()
  })

  it("reports wrong expected version as an in-band status with WrongExpectedVersion details", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}, {}])
    const session = batchSession(c.streams)
    session.send(request(s, { $case: "noStream", value: {} }, 1))
    const [resp] = await session.next()
    assert.strictEqual(resp!.result?.$case, "error")
    const status = resp!.result!.$case === "error" ? resp!.result!.value : undefined
    assert.strictEqual(status!.code, 6)
    assert.strictEqual(status!.message, "WrongExpectedVersion")
    assert.strictEqual(status!.details!.typeUrl, "type.googleapis.com/event_store.client.WrongExpectedVersion")
    const wev = WrongExpectedVersion.decode(status!.details!.value)
    assert.deepStrictEqual(wev.currentStreamRevisionOption, { $case: "currentStreamRevision", value: 1n })
    assert.deepStrictEqual(wev.expectedStreamPositionOption, { $case: "expectedNoStream", value: {} })
    await session.end()
  })

  it("reports stream deleted, timeout and size errors in-band", async () => {
    const s = uniqueStream()
    await tombstoneStream(c.streams, s, any)
    const session = batchSession(c.streams)
    session.send(request(s, { $case: "any", value: {} }, 1))
    const [deleted] = await session.next()
    const st = deleted!.result!.$case === "error" ? deleted!.result!.value : undefined
    assert.strictEqual(st!.code, 5)
    assert.strictEqual(st!.message, "StreamDeleted")
    assert.strictEqual(StreamDeleted.decode(st!.details!.value).streamIdentifier?.streamName.toString(), s)

    session.send(request(uniqueStream(), { $case: "any", value: {} }, 1, {
      options: {
        streamIdentifier: { streamName: Buffer.from(uniqueStream()) },
        expectedStreamPosition: { $case: "any", value: {} },
        deadlineOption: { $case: "deadline", value: { seconds: 0n, nanos: 0 } }
      }
    }))
    const [timeout] = await session.next()
    const ts = timeout!.result!.$case === "error" ? timeout!.result!.value : undefined
    assert.strictEqual(ts!.code, 4)
    assert.strictEqual(ts!.message, "Timeout")
    assert.strictEqual(ts!.details!.typeUrl, "type.googleapis.com/event_store.client.Timeout")

    const big = request(uniqueStream(), { $case: "any", value: {} }, 0)
    session.send({ ...big, proposedMessages: Array.from({ length: 5 }, () => ({ ...proposed(), data: Buffer.alloc(1000) })) })
    const [tooBig] = await session.next()
    const bs = tooBig!.result!.$case === "error" ? tooBig!.result!.value : undefined
    assert.strictEqual(bs!.code, 3)
    assert.strictEqual(bs!.message, "MaximumAppendSizeExceeded")
    assert.strictEqual(MaximumAppendSizeExceeded.decode((bs!.details as Any).value).maxAppendSize, 4096)

    // missing type metadata → BadRequest
    session.send({ ...request(uniqueStream(), { $case: "any", value: {} }, 0), proposedMessages: [{ ...proposed(), metadata: [] }] })
    const [bad] = await session.next()
    const bad1 = bad!.result!.$case === "error" ? bad!.result!.value : undefined
    assert.strictEqual(bad1!.code, 3)
    assert.strictEqual(bad1!.message, "BadRequest")
    assert.strictEqual(bad1!.details!.typeUrl, "type.googleapis.com/event_store.client.BadRequest")

    // the session still works
    session.send(request(uniqueStream(), { $case: "noStream", value: {} }, 1))
    const [ok] = await session.next()
    assert.strictEqual(ok!.result?.$case, "success")
    const { error } = await session.end()
    assert.isUndefined(error)
  })

  it("is idempotent over BatchAppend too", async () => {
    const s = uniqueStream()
    const session = batchSession(c.streams)
    const req = request(s, { $case: "noStream", value: {} }, 2)
    session.send(req)
    const [first] = await session.next()
    session.send({ ...req, correlationId: { value: { $case: "string", value: randomUUID() } } })
    const [second] = await session.next()
    assert.deepStrictEqual(second!.result, first!.result)
    await session.end()
    const after = await appendOk(c.streams, s, { $case: "revision", value: 1n }, [{}])
    assert.deepStrictEqual(after.currentRevisionOption, { $case: "currentRevision", value: 2n })
    void noStream
  })
})
