/**
 * Typed events, the decider and its command handler, snapshots and the test kit, against the
 * embedded node over real gRPC (the order aggregate of examples/eventsourcing).
 */
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { NewEvent, Streams } from "../../src/index.ts"
import { CommandHandler, DeciderSpecification, EventCodec, Snapshots } from "../../src/eventsourcing/index.ts"
import {
  codec,
  EmptyOrder,
  ItemAdded,
  order,
  OrderCancelled,
  OrderConfirmed,
  OrderCreated,
  type OrderCommand,
  type OrderEvent,
  OrderNotOpen,
  orderSnapshots,
  OrderState
} from "../../examples/eventsourcing/order.ts"
import { nodeWithClient, uniqueStream } from "../client/_support.ts"

const at = new Date("2026-01-02T03:04:05.000Z")

describe("DeciderSpecification without a node", () => {
  const spec = DeciderSpecification.make(order)
  it.effect("given / when / then events", () =>
    spec.given([new OrderCreated({ customer: "ada" }), new ItemAdded({ sku: "a", quantity: 2, price: 3 })])
      .when({ _tag: "Confirm", at })
      .then([new OrderConfirmed({ at })]))
  it.effect("given / when / then a typed domain error", () =>
    Effect.gen(function*() {
      yield* spec.given([new OrderCreated({ customer: "ada" })]).when({ _tag: "Confirm", at }).thenFails(new EmptyOrder())
      yield* spec.given([new OrderCreated({ customer: "ada" }), new OrderCancelled({ reason: "x" })])
        .when({ _tag: "AddItem", sku: "a", quantity: 1, price: 1 })
        .thenFails((error) => error._tag === "OrderNotOpen" && error.status === "cancelled")
    }))
  it.effect("a specification that does not hold fails with SpecificationFailed", () =>
    Effect.gen(function*() {
      const wrong = yield* Effect.flip(
        spec.given([]).when({ _tag: "Create", customer: "ada" }).then([new OrderCreated({ customer: "bob" })])
      )
      assert.strictEqual(wrong._tag, "SpecificationFailed")
      assert.include(wrong.message, "bob")
      const noError = yield* Effect.flip(spec.given([]).when({ _tag: "Create", customer: "ada" }).thenFails(new EmptyOrder()))
      assert.strictEqual(noError._tag, "SpecificationFailed")
    }))
})

layer(nodeWithClient(), { timeout: 60_000 })("event sourcing against the embedded node", (it) => {
  it.effect("EventCodec: typed append and read round-trip, with metadata; data is JSON without _tag", () =>
    Effect.gen(function*() {
      const stream = uniqueStream("order")
      const events = [new OrderCreated({ customer: "ada" }), new ItemAdded({ sku: "a", quantity: 2, price: 1.5 }), new OrderConfirmed({ at })]
      yield* codec.append(stream, events, { currentVersion: "no_stream", metadata: { user: "u1" } })
      const typed = Array.from(yield* Stream.runCollect(codec.read(stream)))
      assert.deepStrictEqual(typed.map((t) => t.event), events)
      assert.isTrue(typed[2]!.event instanceof OrderConfirmed)
      assert.deepStrictEqual(typed.map((t) => t.metadata), [{ user: "u1" }, { user: "u1" }, { user: "u1" }])
      assert.deepStrictEqual(JSON.parse(typed[2]!.recorded.dataText), { at: at.toISOString() })
      assert.strictEqual(typed[1]!.recorded.type, "ItemAdded")
    }))

  it.effect("EventCodec: an older version is upcast; unknown types fail typed or are skipped; bad data fails typed", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("order")
      yield* streams.append(stream, [
        NewEvent.json("OrderCreated", { customer: "ada" }),
        NewEvent.json("ItemAdded", { sku: "old", price: 4 }), // version 1: no quantity
        NewEvent.json("CouponApplied", { code: "x" }), // not in the union
        NewEvent.json("ItemAdded", { sku: 3 }) // neither version
      ], { currentVersion: "no_stream" })
      const skipped = yield* Stream.runCollect(codec.read(stream, { limit: 3, unknownTypes: "skip" }))
      assert.deepStrictEqual(Array.from(skipped).map((t) => t.event), [
        new OrderCreated({ customer: "ada" }),
        new ItemAdded({ sku: "old", quantity: 1, price: 4 })
      ])
      const unknown = yield* Effect.flip(Stream.runCollect(codec.read(stream, { limit: 3 })))
      assert.strictEqual(unknown._tag, "EventDecodeError")
      if (unknown._tag !== "EventDecodeError") return
      assert.strictEqual(unknown.reason, "UnknownType")
      assert.strictEqual(unknown.type, "CouponApplied")
      assert.strictEqual(unknown.stream, stream)
      assert.strictEqual(unknown.streamPosition, 2n)
      assert.isDefined(unknown.commitPosition)
      const invalid = yield* Effect.flip(Stream.runCollect(codec.read(stream, { streamPosition: 3n })))
      assert.strictEqual(invalid._tag, "EventDecodeError")
      if (invalid._tag !== "EventDecodeError") return
      assert.strictEqual(invalid.reason, "InvalidData")
      assert.include(invalid.issue, "sku")
      // metadata that its Schema refuses
      yield* streams.append(stream, new NewEvent({ type: "OrderCancelled", data: '{"reason":"r"}', metadata: '{"user":1}' }), {
        currentVersion: 3n
      })
      const meta = yield* Effect.flip(Stream.runCollect(codec.read(stream, { streamPosition: 4n })))
      assert.strictEqual(meta._tag === "EventDecodeError" && meta.reason, "InvalidMetadata")
      // metadata holding only the trace context a traced append writes is no user metadata
      yield* streams.append(stream, new NewEvent({
        type: "OrderCancelled",
        data: '{"reason":"r"}',
        metadata: '{"$traceId":"0af7651916cd43dd8448eb211c80319c","$spanId":"b7ad6b7169203331"}'
      }), { currentVersion: 4n })
      const [traced] = yield* Stream.runCollect(codec.read(stream, { streamPosition: 5n }))
      assert.strictEqual(traced!.metadata, undefined)
      assert.deepStrictEqual(traced!.event, new OrderCancelled({ reason: "r" }))
    }))

  it.effect("EventCodec: a typed subscription step", () =>
    Effect.gen(function*() {
      const stream = uniqueStream("order")
      const fiber = yield* codec.subscribeToStream(stream).pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* codec.append(stream, [new OrderCreated({ customer: "ada" }), new OrderCancelled({ reason: "r" })], { currentVersion: "any" })
      const got = Array.from(yield* Fiber.join(fiber))
      assert.deepStrictEqual(got.map((t) => t.event._tag), ["OrderCreated", "OrderCancelled"])
    }))

  it.effect("CommandHandler: commands with typed domain errors; concurrent writers retried on WrongCurrentVersion", () =>
    Effect.gen(function*() {
      // 20 concurrent writers need up to 19 retries
      const handler = CommandHandler.make({ decider: order, codec, metadata: { user: "test" }, retry: Schedule.recurs(50) })
      const stream = uniqueStream("order")
      yield* handler.handle(stream, { _tag: "Create", customer: "ada" })
      const again = yield* Effect.flip(handler.handle(stream, { _tag: "Create", customer: "ada" }))
      assert.strictEqual(again._tag, "OrderAlreadyExists")
      const empty = yield* Effect.flip(handler.handle(stream, { _tag: "Confirm", at }))
      assert.instanceOf(empty, EmptyOrder)
      // 20 writers at once: each loads, decides and appends; the losers reload and decide again
      yield* Effect.all(
        Array.from({ length: 20 }, (_, i) => handler.handle(stream, { _tag: "AddItem", sku: `s${i}`, quantity: 1, price: 1 })),
        { concurrency: "unbounded" }
      )
      const loaded = yield* handler.load(stream)
      assert.strictEqual(loaded.state.lines.length, 20)
      assert.strictEqual(loaded.state.total, 20)
      assert.strictEqual(loaded.version, 20n)
      const confirmed = yield* handler.handle(stream, { _tag: "Confirm", at })
      assert.strictEqual(confirmed.state.status, "confirmed")
      const late = yield* Effect.flip(handler.handle(stream, { _tag: "Cancel", reason: "late" }))
      assert.instanceOf(late, OrderNotOpen)
    }))

  it.effect("CommandHandler: the retry Schedule bounds the retries; WrongCurrentVersion ends it when exhausted", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("order")
      // a decider whose decide appends behind its back: every append meets WrongCurrentVersion
      let decisions = 0
      const racing = CommandHandler.make({
        decider: {
          ...order,
          decide: (command: OrderCommand, state: OrderState) =>
            Effect.andThen(
              Effect.orDie(streams.append(stream, NewEvent.json("ItemAdded", { sku: "x", quantity: 1, price: 1 }), { currentVersion: "any" })),
              Effect.sync(() => decisions++).pipe(Effect.andThen(order.decide(command, state)))
            )
        },
        codec,
        retry: Schedule.recurs(3)
      })
      yield* codec.append(stream, [new OrderCreated({ customer: "ada" })], { currentVersion: "no_stream" })
      const error = yield* Effect.flip(racing.handle(stream, { _tag: "AddItem", sku: "a", quantity: 1, price: 1 }))
      assert.strictEqual(error._tag, "WrongCurrentVersion")
      assert.strictEqual(decisions, 4)
    }))

  it.effect("Snapshots: every 3 events; load from the latest snapshot and the events after it; the seed's how-to", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const handler = CommandHandler.make({ decider: order, codec, snapshots: orderSnapshots })
      const stream = uniqueStream("order")
      yield* handler.handle(stream, { _tag: "Create", customer: "ada" })
      yield* handler.handle(stream, { _tag: "AddItem", sku: "a", quantity: 1, price: 2 })
      let loaded = yield* handler.load(stream)
      assert.isFalse(loaded.fromSnapshot)
      yield* handler.handle(stream, { _tag: "AddItem", sku: "b", quantity: 1, price: 3 }) // 3 events: snapshot at version 2
      loaded = yield* handler.load(stream)
      assert.isTrue(loaded.fromSnapshot)
      assert.strictEqual(loaded.eventsSinceSnapshot, 0)
      assert.strictEqual(loaded.version, 2n)
      yield* handler.handle(stream, { _tag: "AddItem", sku: "c", quantity: 1, price: 4 })
      loaded = yield* handler.load(stream)
      assert.isTrue(loaded.fromSnapshot)
      assert.strictEqual(loaded.eventsSinceSnapshot, 1)
      assert.strictEqual(loaded.version, 3n)
      assert.strictEqual(loaded.state.total, 9)
      // the snapshot is where the seed puts it: state as data, the version in the metadata
      const [snapshot] = yield* streams.get(`snapshot-$${stream}`, { backwards: true, limit: 1 })
      assert.strictEqual(snapshot!.type, "Snapshot")
      assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(snapshot!.metadata)), { version: "2", schemaVersion: 1 })
      assert.deepStrictEqual(JSON.parse(snapshot!.dataText).lines.map((l: { sku: string }) => l.sku), ["a", "b"])
      // the same state from the events alone
      const plain = yield* CommandHandler.make({ decider: order, codec }).load(stream)
      assert.deepStrictEqual(plain.state, loaded.state)
      assert.isFalse(plain.fromSnapshot)
    }))

  it.effect("Snapshots: a snapshot of another schema version, or one that does not decode, is ignored", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("order")
      const v1 = CommandHandler.make({ decider: order, codec, snapshots: orderSnapshots })
      for (const sku of ["a", "b"]) yield* v1.handle(stream, sku === "a" ? { _tag: "Create", customer: "ada" } : { _tag: "AddItem", sku, quantity: 1, price: 1 })
      yield* v1.handle(stream, { _tag: "AddItem", sku: "c", quantity: 1, price: 1 })
      assert.isTrue((yield* v1.load(stream)).fromSnapshot)
      const v2 = CommandHandler.make({
        decider: order,
        codec,
        snapshots: Snapshots.make({ schema: OrderState, schemaVersion: 2, every: 3 })
      })
      const loaded = yield* v2.load(stream)
      assert.isFalse(loaded.fromSnapshot)
      assert.strictEqual(loaded.state.lines.length, 2)
      // a damaged snapshot of the right version
      yield* streams.append(`snapshot-$${stream}`, new NewEvent({ type: "Snapshot", data: "{}", metadata: '{"version":"2","schemaVersion":1}' }), {
        currentVersion: "any"
      })
      assert.isFalse((yield* v1.load(stream)).fromSnapshot)
      assert.strictEqual((yield* v1.load(stream)).state.lines.length, 2)
    }))

  it.effect("Snapshots: a predicate policy (on confirmation); the snapshot stream keeps its last 5 ($maxCount)", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("order")
      const handler = CommandHandler.make({
        decider: order,
        codec,
        snapshots: Snapshots.make<OrderState, OrderEvent>({ schema: OrderState, when: ({ events }) => events.some((e) => e._tag === "OrderConfirmed") })
      })
      yield* handler.handle(stream, { _tag: "Create", customer: "ada" })
      for (let i = 0; i < 5; i++) yield* handler.handle(stream, { _tag: "AddItem", sku: `s${i}`, quantity: 1, price: 1 })
      assert.isFalse((yield* handler.load(stream)).fromSnapshot)
      yield* handler.handle(stream, { _tag: "Confirm", at })
      const loaded = yield* handler.load(stream)
      assert.isTrue(loaded.fromSnapshot)
      assert.strictEqual(loaded.version, 6n)
      assert.strictEqual(loaded.state.status, "confirmed")
      const meta = yield* streams.getStreamMetadata(`snapshot-$${stream}`)
      assert.strictEqual(meta.metadata.$maxCount, 5)
    }))

  it.effect("DeciderSpecification against the node: the same specifications through the command handler", () =>
    Effect.gen(function*() {
      const spec = DeciderSpecification.onNode(CommandHandler.make({ decider: order, codec }), codec, { streamPrefix: "spec-order" })
      yield* spec.given([new OrderCreated({ customer: "ada" }), new ItemAdded({ sku: "a", quantity: 2, price: 3 })])
        .when({ _tag: "Confirm", at })
        .then([new OrderConfirmed({ at })])
      yield* spec.given([new OrderCreated({ customer: "ada" })]).when({ _tag: "Confirm", at }).thenFails(new EmptyOrder())
      const wrong = yield* Effect.flip(spec.given([]).when({ _tag: "Create", customer: "ada" }).then([]))
      assert.strictEqual(wrong._tag, "SpecificationFailed")
    }))

  it.effect("EventCodec: an event its Schema refuses, or one outside the union, fails with EventEncodeError and appends nothing", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("order")
      const bad = new ItemAdded({ sku: "a", quantity: 1.5, price: 1 }, { disableChecks: true })
      const refused = yield* Effect.flip(codec.append(stream, [new OrderCreated({ customer: "ada" }), bad], { currentVersion: "no_stream" }))
      assert.strictEqual(refused._tag, "EventEncodeError")
      if (refused._tag !== "EventEncodeError") return
      assert.strictEqual(refused.type, "ItemAdded")
      const stranger = yield* Effect.flip(codec.encode({ _tag: "Stranger" } as never))
      assert.include(stranger.issue, "not an event")
      const read = yield* Effect.flip(streams.get(stream))
      assert.strictEqual(read._tag, "NotFound")
    }))

  it.effect("EventCodec.make refuses a union with a repeated type", () =>
    Effect.sync(() => {
      assert.throws(() => EventCodec.make([OrderCreated, OrderCreated]), /declared twice/)
    }))
})
