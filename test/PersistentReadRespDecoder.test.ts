/**
 * The hand-written persistent-subscription ReadResp decoder agrees with the generated (ts-proto)
 * codec on every message shape a node sends: each decoded event is compared, field by field, with
 * the generated codec's message read the way the consumer read it before (the event's own
 * positions as sent, the retry count on the event and its link, the link alone when its target is
 * gone), over hand-picked edge cases and a few thousand random messages.
 */
import { assert, describe, it } from "@effect/vitest"
import { BinaryWriter } from "@bufbuild/protobuf/wire"
import { RecordedEvent } from "../src/domain/RecordedEvent.ts"
import {
  type ReadResp,
  ReadResp as ReadRespCodec,
  type ReadResp_ReadEvent,
  type ReadResp_ReadEvent_RecordedEvent
} from "../src/generated/persistent.ts"
import { decodePersistentReadResp } from "../src/internal/codec/ReadRespDecoder.ts"
import { uuidToString } from "../src/internal/convert.ts"
import { recordedEventMessage } from "./support/recordedEventMessage.ts"

const U64_MAX = 18446744073709551615n

// the event's own commit position differs from its prepare position: persistent events keep both
const recorded = (overrides: Partial<ReadResp_ReadEvent_RecordedEvent> = {}): ReadResp_ReadEvent_RecordedEvent =>
  recordedEventMessage({ commitPosition: 1230n, ...overrides })

const readEvent = (overrides: Partial<ReadResp_ReadEvent> = {}): ReadResp => ({
  content: {
    $case: "event",
    value: { event: recorded(), link: undefined, position: undefined, count: { $case: "retryCount", value: 0 }, ...overrides }
  }
})

const encode = (message: ReadResp): Buffer => Buffer.from(ReadRespCodec.encode(message).finish())

/** The generated codec's event, read as the consumer read it before the hand-written decoder. */
const reference = (
  event: ReadResp_ReadEvent_RecordedEvent,
  link: RecordedEvent | undefined,
  retryCount: number | undefined
): RecordedEvent => {
  const value = (key: string) => event.metadata.findLast((m) => m.key === key)?.value
  return new RecordedEvent({
    type: value("type") ?? "",
    data: event.data,
    metadata: event.customMetadata,
    contentType: value("content-type") ?? "application/octet-stream",
    id: uuidToString(event.id),
    streamName: event.streamIdentifier?.streamName.toString("utf8") ?? "",
    streamPosition: event.streamRevision,
    commitPosition: event.commitPosition,
    preparePosition: event.preparePosition,
    createdTicks: value("created"),
    link,
    retryCount
  })
}

const referenceOf = (buf: Buffer): RecordedEvent | undefined => {
  const content = ReadRespCodec.decode(buf).content
  if (content?.$case !== "event") return undefined
  const e = content.value
  const retryCount = e.count?.$case === "retryCount" ? e.count.value : undefined
  const link = e.link === undefined ? undefined : reference(e.link, undefined, retryCount)
  return e.event === undefined ? link : reference(e.event, link, retryCount)
}

/** Every field a user sees, the bytes as bytes. */
const view = (event: RecordedEvent | undefined): unknown =>
  event === undefined ? undefined : {
    type: event.type,
    data: Buffer.from(event.data).toString("hex"),
    metadata: Buffer.from(event.metadata).toString("hex"),
    contentType: event.contentType,
    id: event.id,
    streamName: event.streamName,
    streamPosition: event.streamPosition,
    commitPosition: event.commitPosition,
    preparePosition: event.preparePosition,
    createdTicks: event.createdTicks,
    retryCount: event.retryCount,
    ackId: event.ackId,
    link: view(event.link)
  }

const agrees = (message: ReadResp) => {
  const buf = encode(message)
  const decoded = decodePersistentReadResp(buf)
  assert.strictEqual(decoded._tag, "event")
  const event = decoded._tag === "event" ? decoded.event : undefined
  assert.deepStrictEqual(view(event), view(referenceOf(buf)))
  return event
}

describe("decodePersistentReadResp", () => {
  it("decodes an event like the generated codec, its payloads views of the received buffer", () => {
    const buf = encode(readEvent({ count: { $case: "retryCount", value: 3 } }))
    const event = agrees(readEvent({ count: { $case: "retryCount", value: 3 } }))!
    assert.strictEqual(event.type, "OrderCreated")
    assert.strictEqual(event.retryCount, 3)
    assert.strictEqual(event.commitPosition, 1230n)
    assert.strictEqual(event.preparePosition, 1234n)
    assert.strictEqual(event.createdTicks, 17645000000000000n)
    assert.strictEqual(event.dataText, '{"order":"123"}')
    const decoded = decodePersistentReadResp(buf)
    const again = decoded._tag === "event" ? decoded.event! : undefined!
    assert.strictEqual((again.data as Buffer).buffer, buf.buffer, "data is a view of the received buffer")
  })

  it("a resolved link: the event carries it, both with the retry count, acked by the link's id", () => {
    const link = recorded({
      id: { value: { $case: "string", value: "11111111-2222-3333-4444-555555555555" } },
      streamIdentifier: { streamName: Buffer.from("$et-OrderCreated") },
      metadata: [{ key: "type", value: "$>" }, { key: "content-type", value: "application/octet-stream" }],
      data: Buffer.from("7@order-1")
    })
    const event = agrees(readEvent({ link, count: { $case: "retryCount", value: 2 } }))!
    assert.strictEqual(event.link?.type, "$>")
    assert.strictEqual(event.link?.retryCount, 2)
    assert.strictEqual(event.ackId, "11111111-2222-3333-4444-555555555555")
  })

  it("a link whose target is gone comes as the link itself; a ReadEvent with neither is no event", () => {
    const link = recorded({ metadata: [{ key: "type", value: "$>" }] })
    const event = agrees(readEvent({ event: undefined, link }))!
    assert.isTrue(event.isLinkEvent)
    assert.strictEqual(event.link, undefined)
    assert.strictEqual(agrees(readEvent({ event: undefined, link: undefined })), undefined)
  })

  it("structured UUIDs, uint64 extremes kept as sent, UTF-8 names, no retry count, a negative one", () => {
    const event = agrees(readEvent({
      event: recorded({
        id: { value: { $case: "structured", value: { mostSignificantBits: -1n, leastSignificantBits: 0x0123456789abcdefn } } },
        streamIdentifier: { streamName: Buffer.from("ストリーム-ü") },
        streamRevision: 9223372036854775807n,
        preparePosition: U64_MAX,
        commitPosition: U64_MAX,
        metadata: [{ key: "type", value: "Typ-ä" }, { key: "content-type", value: "text/plain" }]
      }),
      count: { $case: "noRetryCount", value: {} }
    }))!
    assert.strictEqual(event.id, "ffffffff-ffff-ffff-0123-456789abcdef")
    assert.strictEqual(event.streamName, "ストリーム-ü")
    assert.strictEqual(event.preparePosition, U64_MAX)
    assert.strictEqual(event.retryCount, undefined)
    assert.strictEqual(event.type, "Typ-ä")
    assert.strictEqual(agrees(readEvent({ count: { $case: "retryCount", value: -1 } }))!.retryCount, -1)
    assert.strictEqual(agrees(readEvent({ count: { $case: "retryCount", value: 2147483647 } }))!.retryCount, 2147483647)
    // no positions, no metadata: the proto3 defaults
    const bare = agrees(readEvent({
      event: { ...recorded({ metadata: [], preparePosition: 0n, commitPosition: 0n }), streamIdentifier: undefined }
    }))!
    assert.strictEqual(bare.commitPosition, 0n)
    assert.strictEqual(bare.contentType, "application/octet-stream")
    assert.strictEqual(bare.streamName, "")
  })

  it("names and types of the same length that differ are decoded afresh (the last-text cache)", () => {
    const names = ["order-1", "order-2", "order-2", "ordér1", "order-1"]
    const types = ["Created", "Shipped", "Shipped", "Created", "Créé"]
    names.forEach((name, i) => {
      const event = agrees(readEvent({
        event: recorded({ streamIdentifier: { streamName: Buffer.from(name) }, metadata: [{ key: "type", value: types[i]! }] })
      }))!
      assert.strictEqual(event.streamName, name)
      assert.strictEqual(event.type, types[i])
    })
  })

  it("agrees with the generated codec on random messages", () => {
    let seed = 42
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const big = () => [0n, 1n, 127n, 128n, 2n ** 49n - 1n, 2n ** 49n, 2n ** 63n, U64_MAX][next(8)]!
    const text = () => ["", "a", "order-1", "Ünïcödé-名前", "x".repeat(200)][next(5)]!
    const event = (): ReadResp_ReadEvent_RecordedEvent => recorded({
      id: next(2) === 0
        ? { value: { $case: "string", value: crypto.randomUUID() } }
        : { value: { $case: "structured", value: { mostSignificantBits: BigInt.asIntN(64, big()), leastSignificantBits: BigInt.asIntN(64, big()) } } },
      streamIdentifier: { streamName: Buffer.from(text()) },
      streamRevision: big(),
      preparePosition: big(),
      commitPosition: big(),
      metadata: [
        ...(next(4) === 0 ? [] : [{ key: "type", value: text() }]),
        ...(next(4) === 0 ? [] : [{ key: "content-type", value: ["application/json", "application/octet-stream", text()][next(3)]! }]),
        ...(next(4) === 0 ? [] : [{ key: "created", value: String(big()) }]),
        ...(next(4) === 0 ? [{ key: "other", value: text() }] : [])
      ],
      customMetadata: Buffer.from(text()),
      data: Buffer.from(text())
    })
    for (let i = 0; i < 3000; i++) {
      agrees(readEvent({
        event: next(8) === 0 ? undefined : event(),
        link: next(3) === 0 ? event() : undefined,
        position: next(2) === 0 ? { $case: "commitPosition", value: big() } : { $case: "noPosition", value: {} },
        count: next(3) === 0 ? { $case: "noRetryCount", value: {} } : { $case: "retryCount", value: next(2) === 0 ? next(20) : -next(5) }
      }))
    }
  })

  it("decodes the confirmation, and nothing else for an empty message", () => {
    assert.deepStrictEqual(
      decodePersistentReadResp(encode({ content: { $case: "subscriptionConfirmation", value: { subscriptionId: "sub-ü-1" } } })),
      { _tag: "confirmation", subscriptionId: "sub-ü-1" }
    )
    assert.deepStrictEqual(decodePersistentReadResp(Buffer.alloc(0)), { _tag: "other" })
  })

  it("skips fields it does not know, of every wire type", () => {
    const writer = new BinaryWriter()
    writer.uint32((99 << 3) | 0).uint64(5n)
    writer.uint32((98 << 3) | 1).fixed64(1n)
    writer.uint32((97 << 3) | 2).bytes(Buffer.from("zz"))
    writer.uint32((96 << 3) | 5).fixed32(3)
    const buf = Buffer.concat([Buffer.from(writer.finish()), encode(readEvent())])
    const message = decodePersistentReadResp(buf)
    assert.strictEqual(message._tag === "event" ? message.event?.type : undefined, "OrderCreated")
  })

  it("hostile bytes: a value or a RangeError, never another error nor a read past the buffer", () => {
    // a length prefix of 4 GiB, a varint longer than 10 bytes, an unknown wire type
    const hostile = [
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      Buffer.from([0x0a, 0x0b, 0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      Buffer.from([0x0f, 0x01])
    ]
    for (const buf of hostile) assert.throws(() => decodePersistentReadResp(buf), RangeError)
    // every valid message with one byte changed, and random bytes
    let seed = 99
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const valid = encode(readEvent({ link: recorded(), count: { $case: "retryCount", value: 7 } }))
    const inputs: Array<Buffer> = []
    for (let i = 0; i < valid.length; i++) {
      for (const b of [0x00, 0x7f, 0x80, 0xff]) {
        const copy = Buffer.from(valid)
        copy[i] = b
        inputs.push(copy)
      }
    }
    for (let i = 0; i < 2000; i++) inputs.push(Buffer.from(Array.from({ length: next(64) }, () => next(256))))
    for (const buf of inputs) {
      try {
        decodePersistentReadResp(buf)
      } catch (error) {
        assert.instanceOf(error, RangeError, buf.toString("hex"))
      }
    }
  })

  it("rejects truncated input with an error instead of garbage", () => {
    const buf = encode(readEvent())
    for (const cut of [1, 20, buf.length - 3]) {
      assert.throws(() => decodePersistentReadResp(buf.subarray(0, buf.length - cut)), RangeError)
    }
  })
})
