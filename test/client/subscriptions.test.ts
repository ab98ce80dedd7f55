/**
 * Catch-up subscriptions (seed checklist items 31-36): to `$all` and to one stream, from the
 * start, from a position (exclusive), from the end, live events, filters, checkpoints and the
 * caught-up marker, deadlines.
 */
import { assert, layer } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { type CaughtUp, type Checkpoint, NewEvent, type RecordedEvent, Streams } from "../../src/index.ts"
import { collect, indexOf, isRecorded, newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

type Item = RecordedEvent | Checkpoint | CaughtUp

/**
 * Runs a subscription in the background, collecting its first `count` recorded events; resolves
 * `live` once the subscription has caught up (the subscription must include CaughtUp markers).
 */
const background = <E>(subscription: Stream.Stream<Item, E>, count: number) =>
  Effect.gen(function*() {
    const live = yield* Deferred.make<void>()
    const items: Array<Item> = []
    const fiber = yield* subscription.pipe(
      Stream.tap((item) => {
        items.push(item)
        return item._tag === "CaughtUp" ? Deferred.succeed(live, undefined) : Effect.void
      }),
      Stream.filter(isRecorded),
      Stream.take(count),
      collect,
      Effect.forkChild
    )
    return { live: Deferred.await(live), items, events: Fiber.join(fiber) }
  })

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("subscribe to $all", (it) => {
  it.effect("delivers recorded events, then live ones, without system events", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("sub-all")
      const start = yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
      yield* streams.setStreamMetadata(stream, { $maxCount: 100 })
      // from the beginning of $all; the client-side filter keeps this test's stream and any system
      // event (there must be none: the default filter excludes them on the server)
      const sub = yield* background(
        streams.subscribeToAll({ includeCaughtUp: true }).pipe(
          Stream.filter((item) => item._tag !== "RecordedEvent" || item.streamName.startsWith("sub-all") || item.isSystemEvent)
        ),
        5
      )
      yield* sub.live
      yield* streams.append(stream, newEvents(2), { currentVersion: 2n })
      const events = yield* sub.events
      assert.deepStrictEqual(events.map((e) => [e.streamName, e.streamPosition]), [
        [stream, 0n],
        [stream, 1n],
        [stream, 2n],
        [stream, 3n],
        [stream, 4n]
      ])
      assert.isFalse(sub.items.some((item) => item._tag === "RecordedEvent" && item.isSystemEvent))
      assert.strictEqual(events[2]!.commitPosition, start)
      // the CaughtUp marker came after the recorded events and before the live ones
      const tags = sub.items.filter((item) => item._tag !== "Checkpoint").map((item) => item._tag)
      assert.deepStrictEqual(tags, ["RecordedEvent", "RecordedEvent", "RecordedEvent", "CaughtUp", "RecordedEvent", "RecordedEvent"])
    }))

  it.effect("honours filters on event types and stream names", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("sub-filter")
      const other = uniqueStream("sub-filter-other")
      yield* streams.append(stream, [new NewEvent({ type: "Wanted", data: "{}" }), new NewEvent({ type: "Unwanted", data: "{}" })], {
        currentVersion: "no_stream"
      })
      yield* streams.append(other, new NewEvent({ type: "Wanted", data: "{}" }), { currentVersion: "no_stream" })
      const byType = yield* background(
        streams.subscribeToAll({ filterInclude: ["Wanted", "AlsoWanted"], includeCaughtUp: true }),
        3
      )
      const byStream = yield* background(
        streams.subscribeToAll({ filterInclude: stream, filterByStreamName: true, includeCaughtUp: true }),
        3
      )
      yield* byType.live
      yield* byStream.live
      yield* streams.append(stream, [new NewEvent({ type: "AlsoWanted", data: "{}" }), new NewEvent({ type: "Wanted", data: "{}" })], {
        currentVersion: 1n
      })
      const typed = yield* byType.events
      assert.deepStrictEqual(typed.map((e) => [e.streamName, e.type]), [[stream, "Wanted"], [other, "Wanted"], [stream, "AlsoWanted"]])
      const named = yield* byStream.events
      assert.deepStrictEqual(named.map((e) => e.type), ["Wanted", "Unwanted", "AlsoWanted"])
    }))

  it.effect("with windowSize 1 a filtered subscription delivers checkpoints; resuming from one loses and repeats nothing", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("sub-checkpoint")
      const noise = uniqueStream("noise")
      yield* streams.append(stream, newEvents(2, "Kept"), { currentVersion: "no_stream" })
      yield* streams.append(noise, newEvents(5, "Noise"), { currentVersion: "no_stream" })
      yield* streams.append(stream, newEvents(2, "Kept"), { currentVersion: 1n })
      const options = {
        filterInclude: "Kept",
        includeCheckpoints: true,
        includeCaughtUp: true,
        windowSize: 1,
        checkpointIntervalMultiplier: 1
      } as const
      const items = yield* collect(
        streams.subscribeToAll(options).pipe(Stream.takeUntil((item) => item._tag === "CaughtUp"))
      )
      const checkpoints = items.filter((item): item is Checkpoint => item._tag === "Checkpoint")
      const kept = items.filter(isRecorded)
      assert.deepStrictEqual(kept.map((e) => [e.streamName, e.streamPosition]), [[stream, 0n], [stream, 1n], [stream, 2n], [stream, 3n]])
      assert.isAtLeast(checkpoints.length, 1)
      // checkpoints never go backwards, nor behind an event already delivered
      let last = -1n
      for (const item of items) {
        if (item._tag === "CaughtUp") continue
        assert.isTrue(item.commitPosition! >= last, "positions never go backwards")
        last = item.commitPosition!
      }
      // resume from a checkpoint between our events: only the events after it come again
      const between = checkpoints.find((c) => c.commitPosition >= kept[1]!.commitPosition! && c.commitPosition < kept[2]!.commitPosition!)
      assert.isDefined(between, "a checkpoint while the filter skipped the noise")
      const resumed = yield* collect(
        streams.subscribeToAll({ ...options, commitPosition: between!.commitPosition }).pipe(
          Stream.takeUntil((item) => item._tag === "CaughtUp"),
          Stream.filter(isRecorded)
        )
      )
      assert.deepStrictEqual(resumed.map((e) => e.streamPosition), [2n, 3n])
      // the checkpoint at the end of catch-up lets a restart skip everything seen
      const lastCheckpoint = checkpoints[checkpoints.length - 1]!
      assert.isTrue(lastCheckpoint.commitPosition >= kept[3]!.commitPosition!)
    }))

  it.effect("a start position is exclusive, and fromEnd delivers only new events", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("sub-from")
      yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
      const [e0, e1, e2] = yield* streams.get(stream)
      const fromPosition = yield* collect(
        streams.subscribeToAll({ commitPosition: e0!.commitPosition!, filterInclude: stream, filterByStreamName: true }).pipe(
          Stream.filter(isRecorded),
          Stream.take(2)
        )
      )
      assert.deepStrictEqual(fromPosition.map((e) => e.id), [e1!.id, e2!.id])

      const fromEnd = yield* background(streams.subscribeToAll({ fromEnd: true, includeCaughtUp: true }), 1)
      yield* fromEnd.live
      yield* streams.append(stream, newEvents(1, "New"), { currentVersion: 2n })
      const [first] = yield* fromEnd.events
      assert.strictEqual(first!.streamName, stream)
      assert.strictEqual(first!.type, "New")
    }))

  it.effect("a subscription that runs out of time fails with DeadlineExceeded; take ends it cleanly", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      yield* streams.append(uniqueStream("sub-deadline"), newEvents(1), { currentVersion: "no_stream" })
      const error = yield* Effect.flip(Stream.runDrain(streams.subscribeToAll({ timeout: "300 millis" })))
      assert.strictEqual(error._tag, "DeadlineExceeded")
      const one = yield* collect(Stream.take(streams.subscribeToAll(), 1))
      assert.lengthOf(one, 1)
    }))
})

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("subscribe to a stream", (it) => {
  it.effect("from the start: recorded events, caught up, then live events", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("sub-stream")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      const sub = yield* background(streams.subscribeToStream(stream, { includeCaughtUp: true }), 4)
      yield* sub.live
      yield* streams.append(stream, newEvents(2), { currentVersion: 1n })
      const events = yield* sub.events
      assert.deepStrictEqual(events.map((e) => e.streamPosition), [0n, 1n, 2n, 3n])
      assert.deepStrictEqual(sub.items.map((item) => item._tag), [
        "RecordedEvent",
        "RecordedEvent",
        "CaughtUp",
        "RecordedEvent",
        "RecordedEvent"
      ])
      const caughtUp = sub.items[2] as CaughtUp
      assert.isTrue(caughtUp.isCaughtUp)
    }))

  it.effect("from a position (exclusive) and from the end", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("sub-stream-from")
      yield* streams.append(stream, newEvents(4), { currentVersion: "no_stream" })
      const after1 = yield* collect(Stream.take(Stream.filter(streams.subscribeToStream(stream, { streamPosition: 1n }), isRecorded), 2))
      assert.deepStrictEqual(after1.map((e) => e.streamPosition), [2n, 3n])
      assert.deepStrictEqual(after1.map(indexOf), [2, 3])

      const fromEnd = yield* background(streams.subscribeToStream(stream, { fromEnd: true, includeCaughtUp: true }), 1)
      yield* fromEnd.live
      yield* streams.append(stream, newEvents(1), { currentVersion: 3n })
      assert.deepStrictEqual((yield* fromEnd.events).map((e) => e.streamPosition), [4n])
    }))

  it.effect("a missing stream is waited for, not an error", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("sub-later")
      const sub = yield* background(streams.subscribeToStream(stream, { includeCaughtUp: true }), 1)
      yield* sub.live
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      assert.deepStrictEqual((yield* sub.events).map((e) => e.streamPosition), [0n])
    }))

  it.effect("tombstoning a stream ends its live subscription with StreamDeleted", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("sub-tombstone-live")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      const items: Array<Item> = []
      const live = yield* Deferred.make<void>()
      const fiber = yield* streams.subscribeToStream(stream, { includeCaughtUp: true }).pipe(
        Stream.tap((item) => {
          items.push(item)
          return item._tag === "CaughtUp" ? Deferred.succeed(live, undefined) : Effect.void
        }),
        Stream.runDrain,
        Effect.flip,
        Effect.forkChild
      )
      yield* Deferred.await(live)
      yield* streams.tombstone(stream, { currentVersion: 1n })
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "StreamDeleted")
      assert.deepStrictEqual(items.filter(isRecorded).map((e) => e.streamPosition).slice(0, 2), [0n, 1n])
    }))

  it.effect("a tombstoned stream ends the subscription with StreamDeleted", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("sub-tombstoned")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      yield* streams.tombstone(stream, { currentVersion: "any" })
      const error = yield* Effect.flip(Stream.runDrain(streams.subscribeToStream(stream)))
      assert.strictEqual(error._tag, "StreamDeleted")
    }))
})
