/**
 * Acks made between two runs of a subscription's `events` (after a run's call ended, before the
 * scope closed) wait for the next run and go on its call. The node matches acks by event id,
 * whichever call carries them (a real node's outstanding-message cache is keyed by event id): the
 * consumer that left had its events put back for a retry, the new call gets them again before the
 * node reads the acks, and the acks count for them. An event still waiting in the group's retry
 * buffer when the acks come (the new consumer had no room for it) is not outstanding: the ack is
 * ignored and the event comes again.
 */
import { assert, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { PersistentSubscriptions, type RecordedEvent, Streams } from "../../src/index.ts"
import type { PersistentSubscription } from "../../src/services/PersistentSubscriptions.ts"
import { infoUntil, positions } from "./_persistent.ts"
import { collect, newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

/** Runs the subscription's Stream in the background, keeping what it delivers. */
const background = (sub: PersistentSubscription, onEvent: (e: RecordedEvent) => Effect.Effect<void, unknown> = () => Effect.void) =>
  Effect.gen(function*() {
    const events: Array<RecordedEvent> = []
    const fiber = yield* Effect.forkScoped(
      Stream.runForEach(sub.events, (e) => Effect.andThen(Effect.sync(() => events.push(e)), onEvent(e)))
    )
    const received = (n: number) =>
      Effect.gen(function*() {
        while (events.length < n) yield* Effect.sleep(Duration.millis(5))
      }).pipe(Effect.timeout("5 seconds"))
    return { events, fiber, received }
  })

const setup = (events: number) =>
  Effect.gen(function*() {
    const ps = yield* PersistentSubscriptions.PersistentSubscriptions
    const streams = yield* Streams.Streams
    const stream = uniqueStream("ps-late-ack")
    const group = uniqueStream("g")
    yield* streams.append(stream, newEvents(events), { currentVersion: "no_stream" })
    yield* ps.createToStream(stream, group, { from: "start", settings: { messageTimeout: 10_000, maxRetryCount: 5 } })
    return { ps, streams, stream, group }
  })

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("persistent subscriptions: acks between runs", (it) => {
  it.effect("acks made after a run ended go on the next run's call and count for the events it gets again", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group } = yield* setup(3)
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 3, ackDelay: 0 })
        // the first run takes the three events and ends without acking: the node puts them back
        const first = yield* sub.events.pipe(Stream.take(3), collect)
        assert.deepStrictEqual(positions(first), [[0n, 0], [1n, 0], [2n, 0]])
        yield* infoUntil(stream, group, (info) => info.connections.length === 0 && info.retryBufferCount === 3)
        // acked now, with no call to carry the acks: they wait
        yield* sub.ack(first)
        yield* Effect.sleep(Duration.millis(50))
        assert.strictEqual((yield* ps.getInfoToStream(stream, group)).retryBufferCount, 3)
        // the next run: the node hands the new call the three events (retryCount 1) before it reads
        // the acks sent after the options, which then count for them: no second ack is needed
        const second = yield* background(sub)
        yield* second.received(3)
        assert.deepStrictEqual(positions(second.events), [[0n, 1], [1n, 1], [2n, 1]])
        yield* infoUntil(stream, group, (info) =>
          info.connections.length === 1 && info.totalInFlightMessages === 0 && info.retryBufferCount === 0)
        // acking them again is harmless: the node no longer has them outstanding
        yield* sub.ack(second.events)
        yield* streams.append(stream, newEvents(1), { currentVersion: 2n })
        yield* second.received(4)
        yield* sub.ack(second.events[3]!)
        yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 0)
      }))
      // processed: a new consumer gets none of them again, only the next new event
      yield* streams.append(stream, newEvents(1), { currentVersion: 3n })
      const next = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 10 }), (sub) =>
        sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.take(1), collect)))
      assert.deepStrictEqual(positions(next), [[4n, 0]])
      const info = yield* ps.getInfoToStream(stream, group)
      assert.deepStrictEqual([info.totalInFlightMessages, info.retryBufferCount], [0, 0])
    }))

  it.effect("an ack of an event still waiting in the retry buffer when the acks arrive is ignored: it comes again", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(4)
      yield* Effect.scoped(Effect.gen(function*() {
        const a = yield* ps.readToStream(stream, group, { bufferSize: 2, ackDelay: 0 })
        const b = yield* ps.readToStream(stream, group, { bufferSize: 2, ackDelay: 0 })
        // a takes events 0 and 1, then b takes 2 and 3; a leaves first, then b, none acked
        const runA = yield* background(a)
        yield* runA.received(2)
        const runB = yield* background(b)
        yield* runB.received(2)
        assert.deepStrictEqual(positions(runB.events), [[2n, 0], [3n, 0]])
        yield* Fiber.interrupt(runA.fiber)
        yield* Fiber.interrupt(runB.fiber)
        yield* infoUntil(stream, group, (info) => info.connections.length === 0 && info.retryBufferCount === 4)
        // b acks its two events between runs
        yield* b.ack(runB.events)
        // b's next run has room for two: the node hands it 0 and 1 (first in the retry buffer);
        // 2 and 3 are not outstanding when the acks arrive, so they are ignored
        const again = yield* background(b, (e) => e.streamPosition < 2n ? b.ack(e) : Effect.void)
        yield* again.received(4)
        assert.deepStrictEqual(positions(again.events), [[0n, 1], [1n, 1], [2n, 1], [3n, 1]])
        yield* b.ack(again.events.slice(2))
        yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 0 && info.retryBufferCount === 0)
      }))
    }))
})
