/**
 * Many concurrent calls on one client. Servers allow about 100 concurrent HTTP/2 streams per
 * connection (the official Node client's 101st subscription silently receives nothing), so the
 * client spreads long-lived calls over extra connections.
 */
import { assert, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fiber from "effect/Fiber"
import type * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { RecordedEvent } from "../../src/domain/RecordedEvent.ts"
import * as EventStoreDB from "../../src/layers/EventStoreDB.ts"
import * as PersistentSubscriptions from "../../src/services/PersistentSubscriptions.ts"
import { nodeStats } from "../../src/server/EmbeddedNode.ts"
import type * as Streams from "../../src/services/Streams.ts"
import {
  EmbeddedNode,
  eventually,
  isRecorded,
  makeStreams,
  newEvents,
  nodeLayer,
  proxyScoped,
  uniqueStream,
  withHostPort
} from "./_support.ts"

const SUBSCRIPTIONS = 300

/**
 * Opens SUBSCRIPTIONS subscriptions to `stream` (each forked, ending with its first event) and
 * waits until every one has caught up.
 */
const subscribeAllLive = (streams: Streams.Streams, stream: string) =>
  Effect.gen(function*() {
    let live = 0
    const fibers = yield* Effect.forEach(
      Array.from({ length: SUBSCRIPTIONS }),
      () =>
        streams.subscribeToStream(stream, { includeCaughtUp: true }).pipe(
          Stream.tap((item) => Effect.sync(() => item._tag === "CaughtUp" && live++)),
          Stream.filter(isRecorded),
          Stream.runHead,
          Effect.forkChild
        )
    )
    yield* eventually("every subscription is live", () => live === SUBSCRIPTIONS)
    return fibers
  })

layer(nodeLayer(), { excludeTestServices: true, timeout: "60 seconds" })("concurrency", (it) => {
  it.effect("300 concurrent subscriptions on one client all receive a newly appended event", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      // a proxy in front of the node counts the TCP connections the client opens
      const proxy = yield* proxyScoped(node)
      const streams = yield* makeStreams(withHostPort(node.connectionString, `127.0.0.1:${proxy.port}`))
      const stream = uniqueStream("fan-out")
      const fibers = yield* subscribeAllLive(streams, stream)
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      const received = yield* Fiber.joinAll(fibers)
      assert.strictEqual(received.length, SUBSCRIPTIONS)
      for (const head of received) {
        assert.strictEqual(head._tag, "Some")
        if (head._tag === "Some") assert.strictEqual(head.value.streamPosition, 0n)
      }
      assert.isAtLeast(proxy.accepted(), Math.ceil(SUBSCRIPTIONS / 100), "the calls were spread over several connections")
    }), { timeout: 60_000 })

  it.effect("150 persistent-subscription consumers on one client all receive a newly appended event", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const proxy = yield* proxyScoped(node)
      const layer = EventStoreDB.layer({ connectionString: withHostPort(node.connectionString, `127.0.0.1:${proxy.port}`) })
      const groups = yield* Layer.build(layer.pipe(Layer.orDie)).pipe(
        Effect.map((context) => Context.get(context, PersistentSubscriptions.PersistentSubscriptions))
      )
      const streams = yield* makeStreams(node.connectionString)
      const stream = uniqueStream("fan-out-groups")
      const CONSUMERS = 150
      // one group per consumer: each one's Read call is held until its first event
      yield* Effect.forEach(
        Array.from({ length: CONSUMERS }, (_, i) => `g${i}`),
        (group) => groups.createToStream(stream, group, { from: "start" }),
        { concurrency: 10, discard: true }
      )
      const fibers = yield* Effect.forEach(
        Array.from({ length: CONSUMERS }, (_, i) => `g${i}`),
        (group) =>
          Effect.scoped(Effect.gen(function*() {
            const sub = yield* groups.readToStream(stream, group)
            return yield* sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.runHead)
          })).pipe(Effect.forkChild)
      )
      // every consumer is connected (as the node lists its groups) before the event is appended
      yield* eventually("every consumer connected", groups.listToStream(stream), {
        until: (list) => list.filter((g) => g.connections.length > 0).length >= CONSUMERS,
        intervalMs: 50
      })
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      const received = yield* Fiber.joinAll(fibers)
      for (const head of received) {
        assert.strictEqual(head._tag, "Some")
        if (head._tag === "Some") assert.strictEqual(head.value.streamPosition, 0n)
      }
      // no more than streamsPerChannel (40) consumers on one connection
      assert.isAtLeast(proxy.accepted(), Math.ceil(CONSUMERS / 40), "the calls were spread over several connections")
    }), { timeout: 60_000 })

  it.effect("200 subscriptions spread over several connections all resume after a fault", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const proxy = yield* proxyScoped(node)
      const streams = yield* makeStreams(withHostPort(node.connectionString, `127.0.0.1:${proxy.port}`), {
        retrySchedule: Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 100 }))
      })
      const direct = yield* makeStreams(node.connectionString)
      const stream = uniqueStream("fan-out-fault")
      yield* direct.append(stream, newEvents(1), { currentVersion: "no_stream" })
      let live = 0
      const fibers = yield* Effect.forEach(
        Array.from({ length: 200 }),
        () =>
          streams.subscribeToStream(stream, { includeCaughtUp: true }).pipe(
            Stream.tap((item) => Effect.sync(() => item._tag === "CaughtUp" && live++)),
            Stream.filter(isRecorded),
            Stream.take(3),
            Stream.runCollect,
            Effect.forkChild
          )
      )
      yield* eventually("every subscription is live", () => live === 200)
      yield* Effect.promise(() => proxy.stop())
      yield* direct.append(stream, newEvents(1), { currentVersion: 0n })
      yield* Effect.sleep("100 millis")
      yield* Effect.promise(() => proxy.start())
      yield* direct.append(stream, newEvents(1), { currentVersion: 1n })
      const received = yield* Fiber.joinAll(fibers)
      for (const events of received) {
        assert.deepStrictEqual(Array.from(events).map((e) => e.streamPosition), [0n, 1n, 2n])
      }
    }), { timeout: 60_000 })

  it.effect("subscriptions replaced as soon as they end, all at once on one connection, are all served", () =>
    Effect.gen(function*() {
      // a node on node:http2 counts the streams its client has just reset against the 100 a
      // connection may hold until its event loop turns: a client that fills a connection and
      // replaces all its calls at once (here: each subscription ends with the event all of them
      // receive, and another takes its place) must keep within what the node still serves
      const node = yield* EmbeddedNode
      const streams = yield* makeStreams(node.connectionString, { retrySchedule: Schedule.recurs(0) })
      const runFork = Effect.runForkWith(yield* Effect.context<never>())
      const stream = uniqueStream("turnover")
      const COUNT = 80
      let live = 0
      const failures: Array<unknown> = []
      // the first event ends the first subscriptions; their replacements start after it
      const subscription = (after: bigint | undefined) =>
        streams.subscribeToStream(stream, { includeCaughtUp: true, streamPosition: after }).pipe(
          Stream.tap((item) => Effect.sync(() => item._tag === "CaughtUp" && live++)),
          Stream.filter(isRecorded),
          Stream.runHead,
          Effect.tapCause((cause) => Effect.sync(() => failures.push(cause)))
        )
      const replacements: Array<Fiber.Fiber<Option.Option<RecordedEvent>, unknown>> = []
      const first = Array.from({ length: COUNT }, () => {
        const fiber = runFork(subscription(undefined))
        fiber.addObserver(() => replacements.push(runFork(subscription(0n))))
        return fiber
      })
      yield* eventually("the first subscriptions are live", () => live === COUNT)
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      yield* Fiber.joinAll(first)
      yield* eventually("every replacement is live", () => live === 2 * COUNT || failures.length > 0)
      assert.deepStrictEqual(failures, [])
      yield* streams.append(stream, newEvents(1), { currentVersion: 0n })
      const received = yield* Fiber.joinAll(replacements)
      assert.strictEqual(received.length, COUNT)
      assert.isTrue(received.every((head) => head._tag === "Some" && head.value.streamPosition === 1n))
    }), { timeout: 60_000 })

  it.effect("200 concurrent appends on one client all succeed", () =>
    Effect.gen(function*() {
      const streams = yield* makeStreams((yield* EmbeddedNode).connectionString)
      const stream = uniqueStream("many-appends")
      const positions = yield* Effect.forEach(
        Array.from({ length: 200 }),
        () => streams.append(stream, newEvents(1), { currentVersion: "any" }),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(new Set(positions).size, 200)
      assert.strictEqual(yield* streams.getCurrentVersion(stream), 199n)
      const read = yield* streams.get(stream)
      assert.deepStrictEqual(read.map((e) => e.commitPosition).sort((a, b) => (a! < b! ? -1 : 1)), [...positions].sort((a, b) => (a < b ? -1 : 1)))
    }))
})

layer(nodeLayer({ insecure: true, maxConcurrentStreams: 100 }), { excludeTestServices: true, timeout: "60 seconds" })(
  "a server allowing 100 streams per connection",
  (it) => {
    it.effect("300 subscriptions on one client still all receive a newly appended event", () =>
      Effect.gen(function*() {
        const node = yield* EmbeddedNode
        const streams = yield* makeStreams(node.connectionString)
        const stream = uniqueStream("fan-out-limited")
        const fibers = yield* subscribeAllLive(streams, stream)
        assert.strictEqual(nodeStats(node).activeReads, SUBSCRIPTIONS)
        // appends and reads still get through while 300 subscriptions are open
        yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
        assert.lengthOf(yield* streams.get(stream), 1)
        const received = yield* Fiber.joinAll(fibers)
        assert.isTrue(received.every((head) => head._tag === "Some" && head.value.streamPosition === 0n))
      }), { timeout: 60_000 })
  }
)
