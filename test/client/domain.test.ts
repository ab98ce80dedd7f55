/**
 * The domain values users build and receive (seed checklist item 87): NewEvent defaults,
 * RecordedEvent flags and ackId, Checkpoint and CaughtUp, equality by content.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import * as Schema from "effect/Schema"
import { CaughtUp, Checkpoint, NewEvent, RecordedEvent, StartFrom } from "../../src/index.ts"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const recorded = (fields: Partial<ConstructorParameters<typeof RecordedEvent>[0]> = {}) =>
  new RecordedEvent({
    type: "OrderCreated",
    data: new TextEncoder().encode('{"order":1}'),
    metadata: new Uint8Array(),
    contentType: "application/json",
    id: "5f6a3f0e-6b0c-4b84-9d35-53f0e8c1b1a2",
    streamName: "order-1",
    streamPosition: 0n,
    commitPosition: 128n,
    preparePosition: 128n,
    createdTicks: 17_000_000_000_000_000n,
    link: undefined,
    retryCount: undefined,
    ...fields
  })

describe("NewEvent", () => {
  it("defaults to application/json, a fresh random UUID and empty metadata", () => {
    const event = new NewEvent({ type: "OrderCreated", data: '{"order_number":"123456"}' })
    assert.strictEqual(event.type, "OrderCreated")
    assert.strictEqual(event.contentType, "application/json")
    assert.match(event.id, UUID)
    assert.strictEqual(event.metadata.length, 0)
    assert.strictEqual(new TextDecoder().decode(event.data), '{"order_number":"123456"}')
    const another = new NewEvent({ type: "OrderCreated", data: '{"order_number":"123456"}' })
    assert.notStrictEqual(another.id, event.id, "each event gets its own id")
  })

  it("keeps given bytes, metadata, content type and id", () => {
    const id = "0b0f7d3e-2c1e-4f3a-8d5e-1f2a3b4c5d6e"
    const data = new Uint8Array([1, 2, 3])
    const event = new NewEvent({ type: "Blob", data, metadata: "meta", contentType: "application/octet-stream", id })
    assert.strictEqual(event.data, data)
    assert.strictEqual(new TextDecoder().decode(event.metadata), "meta")
    assert.strictEqual(event.contentType, "application/octet-stream")
    assert.strictEqual(event.id, id)
  })

  it("equality is by content: id, type, content type, data and metadata", () => {
    const id = "0b0f7d3e-2c1e-4f3a-8d5e-1f2a3b4c5d6e"
    const a = new NewEvent({ type: "A", data: "1", metadata: "m", id })
    const same = new NewEvent({ type: "A", data: new TextEncoder().encode("1"), metadata: "m", id })
    assert.isTrue(a.equals(same))
    assert.isTrue(Equal.equals(a, same))
    assert.strictEqual(Hash.hash(a), Hash.hash(same))
    const differing = [
      new NewEvent({ type: "A", data: "1", metadata: "m" }),
      new NewEvent({ type: "B", data: "1", metadata: "m", id }),
      new NewEvent({ type: "A", data: "2", metadata: "m", id }),
      new NewEvent({ type: "A", data: "1", metadata: "n", id }),
      new NewEvent({ type: "A", data: "1", metadata: "m", id, contentType: "application/octet-stream" })
    ]
    for (const other of differing) {
      assert.isFalse(a.equals(other))
      assert.isFalse(Equal.equals(a, other))
      assert.isFalse(Equal.equals(other, a))
    }
    assert.isFalse(Equal.equals(a, { ...a }), "a plain object with the same fields is not an event")
  })

  it("json and binary constructors", () => {
    const json = NewEvent.json("OrderCreated", { order: 1 }, { metadata: { user: "u" } })
    assert.strictEqual(json.contentType, "application/json")
    assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(json.data)), { order: 1 })
    assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(json.metadata)), { user: "u" })
    const binary = NewEvent.binary("Blob", new Uint8Array([9]))
    assert.strictEqual(binary.contentType, "application/octet-stream")
    assert.deepStrictEqual(Array.from(binary.data), [9])
  })
})

describe("RecordedEvent", () => {
  it("a plain user event: not system, not link, not resolved; ackId is its id", () => {
    const event = recorded()
    assert.isFalse(event.isSystemEvent)
    assert.isFalse(event.isLinkEvent)
    assert.isFalse(event.isResolvedEvent)
    assert.isFalse(event.isCheckpoint)
    assert.isFalse(event.isCaughtUp)
    assert.strictEqual(event.ackId, event.id)
    assert.deepStrictEqual(JSON.parse(event.dataText), { order: 1 })
    assert.strictEqual(event.recordedAt?.getTime(), 1_700_000_000_000)
  })

  it.effect("decodeJson: the data as JSON, or through a Schema, in the error channel", () =>
    Effect.gen(function*() {
      const event = recorded()
      assert.deepStrictEqual(yield* event.decodeJson(), { order: 1 })
      const Order = Schema.Struct({ order: Schema.Number })
      const order = yield* event.decodeJson(Order)
      assert.strictEqual(order.order, 1)
      // running it twice decodes twice: a description, as every Effect
      const decode = event.decodeJson(Order)
      assert.deepStrictEqual([yield* decode, yield* decode], [{ order: 1 }, { order: 1 }])
    }))

  it.effect("decodeJson: data that is not JSON, or that the Schema refuses, is an EventDataInvalid naming the event", () =>
    Effect.gen(function*() {
      const broken = recorded({ data: new TextEncoder().encode("{not json"), streamPosition: 7n })
      const notJson = yield* Effect.flip(broken.decodeJson())
      assert.strictEqual(notJson._tag, "EventDataInvalid")
      assert.strictEqual(notJson.stream, "order-1")
      assert.strictEqual(notJson.streamPosition, 7n)
      assert.strictEqual(notJson.type, "OrderCreated")
      assert.match(notJson.reason, /^not JSON: /)
      assert.match(notJson.message, /7@order-1/)
      const refused = yield* Effect.flip(recorded().decodeJson(Schema.Struct({ order: Schema.String })))
      assert.strictEqual(refused._tag, "EventDataInvalid")
      assert.match(refused.reason, /Expected string\n  at \["order"\]/)
    }))

  it("system and link events are recognised by their type", () => {
    assert.isTrue(recorded({ type: "$metadata" }).isSystemEvent)
    const link = recorded({ type: "$>", streamName: "$ce-order", id: "11111111-2222-4333-8444-555555555555" })
    assert.isTrue(link.isSystemEvent)
    assert.isTrue(link.isLinkEvent)
    assert.isFalse(link.isResolvedEvent)
  })

  it("a resolved event carries its link; ackId is the link's id", () => {
    const link = recorded({ type: "$>", streamName: "$ce-order", id: "11111111-2222-4333-8444-555555555555" })
    const resolved = recorded({ link })
    assert.isTrue(resolved.isResolvedEvent)
    assert.isFalse(resolved.isLinkEvent)
    assert.strictEqual(resolved.ackId, "11111111-2222-4333-8444-555555555555")
  })

  it("equality is by content, not by where the event was recorded", () => {
    assert.isTrue(recorded().equals(recorded({ streamPosition: 7n, streamName: "elsewhere", commitPosition: 9n })))
    assert.isTrue(Equal.equals(recorded(), recorded({ streamPosition: 7n })))
    assert.isFalse(recorded().equals(recorded({ id: "11111111-2222-4333-8444-555555555555" })))
    assert.isFalse(Equal.equals(recorded(), recorded({ data: new TextEncoder().encode('{"order":2}') })))
  })

  it("a recorded event equals the new event with the same content, both ways, in types as at runtime", () => {
    const event = new NewEvent({
      type: "OrderCreated",
      data: '{"order":1}',
      id: "5f6a3f0e-6b0c-4b84-9d35-53f0e8c1b1a2"
    })
    const r = recorded()
    assert.isTrue(r.equals(event))
    assert.isTrue(event.equals(r))
    assert.isTrue(Equal.equals(r, event))
    assert.isTrue(Equal.equals(event, r))
    assert.strictEqual(Hash.hash(r), Hash.hash(event))
    const mismatches = [
      recorded({ id: "11111111-2222-4333-8444-555555555555" }),
      recorded({ type: "OrderCancelled" }),
      recorded({ data: new TextEncoder().encode('{"order":2}') }),
      recorded({ metadata: new TextEncoder().encode("{}") }),
      recorded({ contentType: "application/octet-stream" })
    ]
    for (const other of mismatches) {
      assert.isFalse(other.equals(event))
      assert.isFalse(event.equals(other))
      assert.isFalse(Equal.equals(other, event))
      assert.isFalse(Equal.equals(event, other))
    }
  })
})

describe("Checkpoint and CaughtUp", () => {
  it("Checkpoint is a checkpoint, not caught up; prepare defaults to commit", () => {
    const checkpoint = new Checkpoint(42n)
    assert.strictEqual(checkpoint._tag, "Checkpoint")
    assert.isTrue(checkpoint.isCheckpoint)
    assert.isFalse(checkpoint.isCaughtUp)
    assert.strictEqual(checkpoint.commitPosition, 42n)
    assert.strictEqual(checkpoint.preparePosition, 42n)
  })

  it("CaughtUp is caught up, not a checkpoint", () => {
    const caughtUp = new CaughtUp({ commitPosition: 7n })
    assert.strictEqual(caughtUp._tag, "CaughtUp")
    assert.isTrue(caughtUp.isCaughtUp)
    assert.isFalse(caughtUp.isCheckpoint)
    assert.strictEqual(caughtUp.commitPosition, 7n)
    assert.isUndefined(caughtUp.streamPosition)
  })
})

describe("StartFrom.parse", () => {
  it("reads a group's reported start as the official client does: 0 and C:0/P:0 are the start, -1 the end", () => {
    assert.strictEqual(StartFrom.parse("0"), "start")
    assert.strictEqual(StartFrom.parse("-1"), "end")
    assert.strictEqual(StartFrom.parse("42"), 42n)
    assert.strictEqual(StartFrom.parse("C:0/P:0"), "start")
    assert.strictEqual(StartFrom.parse("C:-1/P:-1"), "end")
    assert.deepStrictEqual(StartFrom.parse("C:1640/P:1456"), { commitPosition: 1640n, preparePosition: 1456n })
  })

  it("anything else is undefined (getInfo then fails with a GrpcError naming the unreadable info)", () => {
    for (const text of ["", "start", "-2", "1.5", "C:1/P:-3", "C:x/P:1", " 1"]) assert.isUndefined(StartFrom.parse(text), text)
  })
})
