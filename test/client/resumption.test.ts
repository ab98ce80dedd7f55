/**
 * Resuming after a network fault: the client talks to the node through a TCP proxy that the test
 * kills (every connection is dropped) and restarts on the same port. Subscriptions and reads go
 * on from where they were: every event exactly once, in order.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { NewEvent, type RecordedEvent } from "../../src/index.ts"
import { eventually, isRecorded, makeStreams, newEvents, nodeLayer, proxyScoped, EmbeddedNode, uniqueStream, withHostPort } from "./_support.ts"

/** Retries quickly, for long enough to outlive a short outage. */
const retrySchedule = Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 100 }))

/** Two clients: one through a proxy that can fail, and one straight to the node to write with. */
const setup = Effect.gen(function*() {
  const node = yield* EmbeddedNode
  const proxy = yield* proxyScoped(node)
  const viaProxy = yield* makeStreams(withHostPort(node.connectionString, `127.0.0.1:${proxy.port}`), { retrySchedule })
  const direct = yield* makeStreams(node.connectionString)
  /** Drops every connection and refuses new ones for `ms`, then listens again on the same port. */
  const outage = (ms: number, during: Effect.Effect<void> = Effect.void) =>
    Effect.gen(function*() {
      yield* Effect.promise(() => proxy.stop())
      yield* during
      yield* Effect.sleep(ms)
      yield* Effect.promise(() => proxy.start())
    })
  return { proxy, viaProxy, direct, outage }
})

/** Collects recorded events into `into` until `count` of them arrived. */
const gather = <E>(subscription: Stream.Stream<{ readonly _tag: string }, E>, into: Array<RecordedEvent>, count: number) =>
  subscription.pipe(
    Stream.filter(isRecorded),
    Stream.tap((event) => Effect.sync(() => into.push(event))),
    Stream.take(count),
    Stream.runDrain
  )

const positions = (events: ReadonlyArray<RecordedEvent>) => events.map((e) => Number(e.streamPosition))
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

layer(nodeLayer(), { excludeTestServices: true, timeout: "30 seconds" })("resumption after a fault", (it) => {
  it.effect("a stream subscription resumes with no gap and no duplicate", () =>
    Effect.gen(function*() {
      const { direct, outage, viaProxy } = yield* setup
      const stream = uniqueStream("resume-stream")
      yield* direct.append(stream, newEvents(5), { currentVersion: "no_stream" })
      const received: Array<RecordedEvent> = []
      const fiber = yield* Effect.forkChild(gather(viaProxy.subscribeToStream(stream), received, 15))
      yield* eventually("the first 5 events", () => received.length === 5)
      // 5 events are written while the client cannot reach the node, 5 more after
      yield* outage(300, direct.append(stream, newEvents(5), { currentVersion: 4n }).pipe(Effect.orDie))
      yield* direct.append(stream, newEvents(5), { currentVersion: 9n })
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(positions(received), range(15))
    }))

  it.effect("a $all subscription resumes with no gap and no duplicate, also across several faults", () =>
    Effect.gen(function*() {
      const { direct, outage, viaProxy } = yield* setup
      const stream = uniqueStream("resume-all")
      const received: Array<RecordedEvent> = []
      const fiber = yield* Effect.forkChild(
        gather(viaProxy.subscribeToAll({ filterInclude: stream, filterByStreamName: true }), received, 20)
      )
      let version: bigint | "no_stream" = "no_stream"
      for (let round = 0; round < 4; round++) {
        yield* direct.append(stream, newEvents(3), { currentVersion: version })
        version = BigInt(round * 5 + 2)
        yield* eventually(`round ${round}: events before the fault`, () => received.length === round * 5 + 3)
        yield* outage(100, direct.append(stream, newEvents(2), { currentVersion: version }).pipe(Effect.orDie))
        version = BigInt(round * 5 + 4)
      }
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(positions(received), range(20))
      assert.strictEqual(new Set(received.map((e) => e.id)).size, 20)
    }))

  it.effect("subscriptions from the end resume from where they caught up: events written during the fault arrive", () =>
    Effect.gen(function*() {
      const { direct, outage, viaProxy } = yield* setup
      const existing = uniqueStream("resume-end")
      const missing = uniqueStream("resume-end-missing")
      yield* direct.append(existing, newEvents(3), { currentVersion: "no_stream" })
      const caughtUp = { all: false, existing: false, missing: false }
      const whenLive = (key: keyof typeof caughtUp) => (item: { readonly _tag: string }) =>
        Effect.sync(() => {
          if (item._tag === "CaughtUp") caughtUp[key] = true
        })
      const fromAll: Array<RecordedEvent> = []
      const fromExisting: Array<RecordedEvent> = []
      const fromMissing: Array<RecordedEvent> = []
      const fibers = yield* Effect.all([
        gather(
          viaProxy.subscribeToAll({ fromEnd: true, includeCaughtUp: true, filterInclude: [existing, missing], filterByStreamName: true })
            .pipe(Stream.tap(whenLive("all"))),
          fromAll,
          4
        ),
        gather(viaProxy.subscribeToStream(existing, { fromEnd: true, includeCaughtUp: true }).pipe(Stream.tap(whenLive("existing"))), fromExisting, 2),
        gather(viaProxy.subscribeToStream(missing, { fromEnd: true, includeCaughtUp: true }).pipe(Stream.tap(whenLive("missing"))), fromMissing, 2)
      ].map((subscription) => Effect.forkChild(subscription)))
      yield* eventually("all three caught up", () => caughtUp.all && caughtUp.existing && caughtUp.missing)
      yield* outage(
        200,
        Effect.orDie(Effect.all([
          direct.append(existing, newEvents(2), { currentVersion: 2n }),
          direct.append(missing, newEvents(2), { currentVersion: "no_stream" })
        ]))
      )
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(positions(fromExisting), [3, 4])
      assert.deepStrictEqual(positions(fromMissing), [0, 1])
      assert.deepStrictEqual(fromAll.map((e) => `${e.streamName}@${e.streamPosition}`), [
        `${existing}@3`,
        `${existing}@4`,
        `${missing}@0`,
        `${missing}@1`
      ])
    }))

  it.effect("a read interrupted by a fault goes on from the next event", () =>
    Effect.gen(function*() {
      const { direct, outage, proxy, viaProxy } = yield* setup
      const stream = uniqueStream("resume-read")
      // 3000 events of 4 KiB: more than HTTP/2 flow control lets the node send ahead of the consumer
      const padding = "x".repeat(4096)
      const events = Array.from({ length: 3000 }, (_, i) => new NewEvent({ type: "E", data: JSON.stringify({ i, padding }) }))
      yield* direct.append(stream, events, { currentVersion: "no_stream" })
      const received: Array<RecordedEvent> = []
      const fiber = yield* viaProxy.read(stream).pipe(
        Stream.tap((event) =>
          Effect.sync(() => received.push(event)).pipe(Effect.andThen(received.length % 50 === 0 ? Effect.sleep("2 millis") : Effect.void))
        ),
        Stream.runDrain,
        Effect.forkChild
      )
      yield* eventually("part of the read", () => received.length >= 500)
      const connectionsBefore = proxy.accepted()
      yield* outage(100)
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(positions(received), range(3000))
      assert.isAbove(proxy.accepted(), connectionsBefore, "the read had to reconnect to finish")
    }))

  it.effect("calls made during an outage are retried once the node is reachable again", () =>
    Effect.gen(function*() {
      const { direct, outage, viaProxy } = yield* setup
      const stream = uniqueStream("retry")
      yield* viaProxy.append(stream, newEvents(1), { currentVersion: "no_stream" })
      const during = yield* Effect.forkChild(
        Effect.andThen(Effect.sleep("20 millis"), viaProxy.append(stream, newEvents(1), { currentVersion: 0n }))
      )
      yield* outage(300)
      yield* Fiber.join(during)
      assert.deepStrictEqual(positions(yield* direct.get(stream)), [0, 1])
    }))
})
