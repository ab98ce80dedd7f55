/**
 * The hand-written ReadResp decoder agrees with the generated (ts-proto) codec on every message
 * shape a node sends, including structured UUIDs, resolved links, uint64 extremes, UTF-8 names
 * and fields it does not know.
 */
import { assert, describe, it } from "@effect/vitest"
import { BinaryWriter } from "@bufbuild/protobuf/wire"
import { type ReadResp, ReadResp as ReadRespCodec } from "../src/generated/streams.ts"
import { decodeReadResp } from "../src/internal/codec/ReadRespDecoder.ts"
import { recordedEventMessage } from "./support/recordedEventMessage.ts"

const U64_MAX = 18446744073709551615n

const recorded = recordedEventMessage

const encode = (message: ReadResp): Buffer => Buffer.from(ReadRespCodec.encode(message).finish())

describe("decodeReadResp", () => {
  it("decodes an event like the generated codec, without copying data", () => {
    const buf = encode({ content: { $case: "event", value: { event: recorded(), link: undefined, position: { $case: "commitPosition", value: 1234n } } } })
    const message = decodeReadResp(buf)
    assert.strictEqual(message._tag, "event")
    const event = message._tag === "event" ? message.event! : undefined!
    assert.strictEqual(event.type, "OrderCreated")
    assert.strictEqual(event.id, "0c4410a2-995f-4017-a46f-2bba0d1fc00a")
    assert.strictEqual(event.streamName, "order-1")
    assert.strictEqual(event.streamPosition, 7n)
    assert.strictEqual(event.commitPosition, 1234n)
    assert.strictEqual(event.preparePosition, 1234n)
    assert.strictEqual(event.contentType, "application/json")
    assert.strictEqual(event.createdTicks, 17645000000000000n)
    assert.strictEqual(event.dataText, '{"order":"123"}')
    assert.strictEqual(Buffer.from(event.metadata).toString(), '{"m":1}')
    assert.strictEqual((event.data as Buffer).buffer, buf.buffer, "data is a view of the received buffer")
  })

  it("keeps a resolved link with the link's commit position on both", () => {
    const link = recorded({
      id: { value: { $case: "string", value: "11111111-2222-3333-4444-555555555555" } },
      streamIdentifier: { streamName: Buffer.from("$et-OrderCreated") },
      streamRevision: 0n,
      metadata: [{ key: "type", value: "$>" }, { key: "content-type", value: "application/octet-stream" }],
      data: Buffer.from("7@order-1")
    })
    const message = decodeReadResp(encode({ content: { $case: "event", value: { event: recorded(), link, position: { $case: "commitPosition", value: 9999n } } } }))
    const event = message._tag === "event" ? message.event! : undefined!
    assert.strictEqual(event.type, "OrderCreated")
    assert.strictEqual(event.commitPosition, 9999n)
    assert.strictEqual(event.link?.type, "$>")
    assert.strictEqual(event.link?.streamName, "$et-OrderCreated")
    assert.strictEqual(event.link?.commitPosition, 9999n)
    assert.strictEqual(event.ackId, "11111111-2222-3333-4444-555555555555")
    assert.isTrue(event.isResolvedEvent)
  })

  it("a link whose target is gone comes back as the link itself", () => {
    const link = recorded({ metadata: [{ key: "type", value: "$>" }, { key: "content-type", value: "application/octet-stream" }] })
    const message = decodeReadResp(encode({ content: { $case: "event", value: { event: undefined, link, position: { $case: "commitPosition", value: 5n } } } }))
    const event = message._tag === "event" ? message.event! : undefined!
    assert.isTrue(event.isLinkEvent)
    assert.strictEqual(event.link, undefined)
  })

  it("reads structured UUIDs, uint64 extremes, UTF-8 names and no position", () => {
    const message = decodeReadResp(encode({
      content: {
        $case: "event",
        value: {
          event: recorded({
            id: { value: { $case: "structured", value: { mostSignificantBits: -1n, leastSignificantBits: 0x0123456789abcdefn } } },
            streamIdentifier: { streamName: Buffer.from("ストリーム-ü") },
            streamRevision: 9223372036854775807n,
            preparePosition: U64_MAX,
            metadata: [{ key: "type", value: "Typ-ä" }, { key: "content-type", value: "text/plain" }]
          }),
          link: undefined,
          position: { $case: "noPosition", value: {} }
        }
      }
    }))
    const event = message._tag === "event" ? message.event! : undefined!
    assert.strictEqual(event.id, "ffffffff-ffff-ffff-0123-456789abcdef")
    assert.strictEqual(event.streamName, "ストリーム-ü")
    assert.strictEqual(event.streamPosition, 9223372036854775807n)
    assert.strictEqual(event.preparePosition, undefined)
    assert.strictEqual(event.commitPosition, undefined)
    assert.strictEqual(event.type, "Typ-ä")
    assert.strictEqual(event.contentType, "text/plain")
    assert.strictEqual(event.createdTicks, undefined)
  })

  it("decodes the control messages", () => {
    const at = new Date("2026-11-27T10:00:00.123Z")
    const confirmation = decodeReadResp(encode({ content: { $case: "confirmation", value: { subscriptionId: "abc-123" } } }))
    assert.deepStrictEqual(confirmation, { _tag: "confirmation", subscriptionId: "abc-123" })
    const checkpoint = decodeReadResp(encode({ content: { $case: "checkpoint", value: { commitPosition: U64_MAX - 1n, preparePosition: 42n, timestamp: at } } }))
    assert.deepStrictEqual(checkpoint, { _tag: "checkpoint", commitPosition: U64_MAX - 1n, preparePosition: 42n, timestamp: at })
    const caughtUpStream = decodeReadResp(encode({ content: { $case: "caughtUp", value: { timestamp: at, streamRevision: 12n } } }))
    assert.deepStrictEqual(caughtUpStream, { _tag: "caughtUp", timestamp: at, streamRevision: 12n, position: undefined })
    const caughtUpAll = decodeReadResp(encode({ content: { $case: "caughtUp", value: { position: { commitPosition: 77n, preparePosition: 77n } } } }))
    assert.deepStrictEqual(caughtUpAll, { _tag: "caughtUp", timestamp: undefined, streamRevision: undefined, position: 77n })
    assert.deepStrictEqual(decodeReadResp(encode({ content: { $case: "streamNotFound", value: { streamIdentifier: { streamName: Buffer.from("x") } } } })), { _tag: "streamNotFound" })
    assert.deepStrictEqual(decodeReadResp(encode({ content: { $case: "lastStreamPosition", value: 3n } })), { _tag: "lastStreamPosition", value: 3n })
    assert.deepStrictEqual(decodeReadResp(encode({ content: { $case: "firstStreamPosition", value: U64_MAX } })), { _tag: "firstStreamPosition", value: U64_MAX })
    assert.deepStrictEqual(decodeReadResp(encode({ content: { $case: "fellBehind", value: {} } })), { _tag: "fellBehind" })
    assert.deepStrictEqual(decodeReadResp(encode({ content: { $case: "lastAllStreamPosition", value: { commitPosition: 1n, preparePosition: 1n } } })), { _tag: "other" })
  })

  it("skips fields it does not know, of every wire type", () => {
    const inner = Buffer.from(ReadRespCodec.encode({ content: { $case: "event", value: { event: recorded(), link: undefined, position: { $case: "commitPosition", value: 1n } } } }).finish())
    const writer = new BinaryWriter()
    writer.uint32((99 << 3) | 0).uint64(5n)
    writer.uint32((98 << 3) | 1).fixed64(1n)
    writer.uint32((97 << 3) | 2).bytes(Buffer.from("zz"))
    writer.uint32((96 << 3) | 5).fixed32(3)
    const buf = Buffer.concat([Buffer.from(writer.finish()), inner])
    const message = decodeReadResp(buf)
    assert.strictEqual(message._tag === "event" ? message.event?.type : undefined, "OrderCreated")
  })

  it("rejects truncated input with an error instead of garbage", () => {
    const buf = encode({ content: { $case: "event", value: { event: recorded(), link: undefined, position: { $case: "commitPosition", value: 1n } } } })
    assert.throws(() => decodeReadResp(buf.subarray(0, buf.length - 20)))
  })
})
