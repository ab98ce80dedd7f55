/**
 * A consumer's ack delay and closing waits run on Effect's Clock: the subscription is made with a
 * `TestClock` (the node and the test's polling keep the live clock), so a batch that is not full
 * goes exactly `ackDelay` after its first id, and a run closed right after acks waits for the
 * grace (50 ms after grpc-js handed them to HTTP/2) on that Clock, not on a timer of its own.
 */
import { assert, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { PersistentSubscriptions, type RecordedEvent, Streams } from "../../src/index.ts"
import type { PersistentSubscription, PersistentSubscriptions as Groups } from "../../src/services/PersistentSubscriptions.ts"
import { infoUntil } from "./_persistent.ts"
import { newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

const setup = (events: number) =>
  Effect.gen(function*() {
    const ps = yield* PersistentSubscriptions.PersistentSubscriptions
    const streams = yield* Streams.Streams
    const stream = uniqueStream("ps-ack-delay")
    const group = uniqueStream("g")
    yield* streams.append(stream, newEvents(events), { currentVersion: "no_stream" })
    yield* ps.createToStream(stream, group, { from: "start", settings: { messageTimeout: 60_000 } })
    return { ps, stream, group }
  })

/** Runs the subscription's Stream in the background until `n` events came (live clock, bounded). */
const received = (sub: PersistentSubscription, n: number) =>
  Effect.gen(function*() {
    const events: Array<RecordedEvent> = []
    const fiber = yield* Effect.forkChild(Stream.runForEach(sub.events, (e) => Effect.sync(() => events.push(e))))
    for (let i = 0; i < 500 && events.length < n; i++) yield* Effect.sleep(Duration.millis(10))
    assert.strictEqual(events.length, n)
    return { events, fiber }
  })

/** The group's events in flight (delivered, not acked), as the node counts them. */
const inFlight = (ps: Groups, stream: string, group: string) =>
  Effect.map(ps.getInfoToStream(stream, group), (info) => info.totalInFlightMessages)

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("persistent subscriptions: ack delay on the Clock", (it) => {
  it.effect("a batch that is not full goes ackDelay after its first id, by the subscription's Clock", () =>
    Effect.scoped(Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(4)
      const clock = yield* TestClock.make()
      const sub = yield* ps.readToStream(stream, group, { bufferSize: 4, ackBatchSize: 10, ackDelay: "1 hour" }).pipe(
        Effect.provideService(Clock.Clock, clock)
      )
      const { events, fiber } = yield* received(sub, 4)
      yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 4)

      yield* sub.ack(events[0]!)
      // live time passes, the subscription's Clock does not: the ack waits
      yield* Effect.sleep(Duration.millis(200))
      assert.strictEqual(yield* inFlight(ps, stream, group), 4)
      yield* clock.adjust("3599999 millis")
      yield* Effect.sleep(Duration.millis(200))
      assert.strictEqual(yield* inFlight(ps, stream, group), 4, "not before the delay")
      yield* clock.adjust("1 millis")
      yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 3)

      // the next batch counts its delay from its own first id
      yield* clock.adjust("20 minutes")
      yield* sub.ack(events[1]!)
      yield* clock.adjust("40 minutes")
      yield* sub.ack(events[2]!)
      yield* Effect.sleep(Duration.millis(200))
      assert.strictEqual(yield* inFlight(ps, stream, group), 3, "20 of its 60 minutes left")
      yield* clock.adjust("20 minutes")
      yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 1)

      // nothing sent lately (by the subscription's Clock): the run's call is cancelled at once
      yield* clock.adjust("2 hours")
      yield* Fiber.interrupt(fiber)
      yield* infoUntil(stream, group, (info) => info.connections.length === 0 && info.retryBufferCount === 1)
    })))

  it.effect("closing a run right after acks waits the grace on the subscription's Clock, then cancels", () =>
    Effect.scoped(Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(3)
      const clock = yield* TestClock.make()
      const sub = yield* ps.readToStream(stream, group, { bufferSize: 3, ackBatchSize: 10, ackDelay: "1 second" }).pipe(
        Effect.provideService(Clock.Clock, clock)
      )
      const { events, fiber } = yield* received(sub, 3)
      yield* sub.ack(events)
      // the three ids wait (the batch is not full, the delay has not passed): closing sends them,
      // half-closes, and once grpc-js handed them to HTTP/2 waits 50 ms by the Clock
      const closing = yield* Effect.forkChild(Fiber.interrupt(fiber))
      yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 0)
      yield* Effect.sleep(Duration.millis(300))
      assert.isUndefined(closing.pollUnsafe(), "still in its grace")
      assert.strictEqual((yield* ps.getInfoToStream(stream, group)).connections.length, 1)
      yield* clock.adjust("49 millis")
      yield* Effect.sleep(Duration.millis(100))
      assert.isUndefined(closing.pollUnsafe(), "1 ms of the grace left")
      yield* clock.adjust("1 millis")
      yield* Fiber.join(closing).pipe(Effect.timeout("5 seconds"))
      // the acks were read before the cancel: nothing goes back for a retry
      const info = yield* infoUntil(stream, group, (i) => i.connections.length === 0)
      assert.strictEqual(info.retryBufferCount, 0)
    })))
})
