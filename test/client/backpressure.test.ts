/**
 * Backpressure and cancellation: a slow consumer gets every event in order (the gRPC stream is
 * paused, nothing is dropped), and ending or interrupting a read or subscription cancels its
 * gRPC call, so the node stops serving it.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { NewEvent, Streams } from "../../src/index.ts"
import { EmbeddedNode, nodeStats } from "../../src/server/EmbeddedNode.ts"
import { collect, eventually, indexOf, isRecorded, newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

const COUNT = 5000

/** Appends `COUNT` numbered events in batches of 500. */
const appendMany = (stream: string) =>
  Effect.gen(function*() {
    const streams = yield* Streams.Streams
    for (let batch = 0; batch < COUNT / 500; batch++) {
      const events = Array.from({ length: 500 }, (_, i) => new NewEvent({ type: "TestEvent", data: JSON.stringify({ i: batch * 500 + i }) }))
      yield* streams.append(stream, events, { currentVersion: batch === 0 ? "no_stream" : BigInt(batch * 500 - 1) })
    }
  })

/** A consumer that yields to the timer every 25 events: far slower than the node sends. */
const slowly = <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
  Stream.suspend(() => {
    let n = 0
    return Stream.mapEffect(stream, (a) => (++n % 25 === 0 ? Effect.as(Effect.sleep("1 millis"), a) : Effect.succeed(a)))
  })

layer(nodeWithClient(), { excludeTestServices: true, timeout: "60 seconds" })("backpressure", (it) => {
  it.effect("reading 5,000 events with a slow consumer delivers all of them, in order", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("many")
      yield* appendMany(stream)
      const events = yield* collect(slowly(streams.read(stream)))
      assert.strictEqual(events.length, COUNT)
      events.forEach((event, i) => {
        assert.strictEqual(event.streamPosition, BigInt(i))
        assert.strictEqual(indexOf(event), i)
      })
    }), { timeout: 60_000 })

  it.effect("a subscription with a slow consumer delivers 5,000 events in order, then live ones", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("many-sub")
      yield* appendMany(stream)
      const fiber = yield* slowly(streams.subscribeToStream(stream)).pipe(
        Stream.filter(isRecorded),
        Stream.take(COUNT + 1),
        collect,
        Effect.forkChild
      )
      yield* streams.append(stream, newEvents(1), { currentVersion: BigInt(COUNT - 1) })
      const events = yield* Fiber.join(fiber)
      assert.deepStrictEqual(events.map((e) => Number(e.streamPosition)), Array.from({ length: COUNT + 1 }, (_, i) => i))
    }), { timeout: 60_000 })
})

/** The Read calls (reads and subscriptions) the node is serving: its own counter. */
const activeReads = Effect.map(EmbeddedNode, (node) => () => nodeStats(node).activeReads)

layer(EmbeddedNode.layerClient({ insecure: true }).pipe(Layer.orDie), { excludeTestServices: true, timeout: "30 seconds" })("cancellation", (it) => {
  it.effect("Stream.take(3) on a subscription cancels its call: the node stops serving it", () =>
    Effect.gen(function*() {
      const served = yield* activeReads
      const streams = yield* Streams.Streams
      const stream = uniqueStream("take")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      assert.strictEqual(served(), 0)
      const fiber = yield* streams.subscribeToStream(stream).pipe(Stream.take(3), collect, Effect.forkChild)
      yield* eventually("the subscription is being served", () => served() === 1)
      yield* streams.append(stream, newEvents(5), { currentVersion: 1n })
      const events = yield* Fiber.join(fiber)
      assert.deepStrictEqual(events.map((e) => e._tag === "RecordedEvent" && e.streamPosition), [0n, 1n, 2n])
      yield* eventually("the node freed the subscription", () => served() === 0)
    }))

  it.effect("interrupting the fiber running a subscription ends its call", () =>
    Effect.gen(function*() {
      const served = yield* activeReads
      const streams = yield* Streams.Streams
      const fiber = yield* Effect.forkChild(Stream.runDrain(streams.subscribeToAll()))
      const other = yield* Effect.forkChild(Stream.runDrain(streams.subscribeToStream(uniqueStream("idle"))))
      yield* eventually("both subscriptions are being served", () => served() === 2)
      yield* Fiber.interrupt(fiber)
      yield* eventually("the node freed the interrupted subscription", () => served() === 1)
      yield* Fiber.interrupt(other)
      yield* eventually("the node freed the other one", () => served() === 0)
    }))

  it.effect("a read cut short by its consumer ends its call", () =>
    Effect.gen(function*() {
      const served = yield* activeReads
      const streams = yield* Streams.Streams
      const stream = uniqueStream("cut")
      yield* streams.append(stream, newEvents(1000), { currentVersion: "no_stream" })
      const first = yield* collect(Stream.take(streams.read(stream), 2))
      assert.lengthOf(first, 2)
      yield* eventually("the node ended the read", () => served() === 0)
    }))
})
