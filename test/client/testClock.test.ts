/**
 * A client used under TestClock (as in `it.effect`) works against a real node: deadlines are
 * instants of the Clock, and grpc-js and the batch appender get what is left of them on the wall
 * clock, so a TestClock standing at 0 does not make every call expired.
 */
import { assert, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as EventStoreDB from "../../src/layers/EventStoreDB.ts"
import { PersistentSubscriptions } from "../../src/services/PersistentSubscriptions.ts"
import { Streams } from "../../src/services/Streams.ts"
import { EmbeddedNode, isRecorded, newEvents, nodeLayer, uniqueStream } from "./_support.ts"

layer(nodeLayer(), { excludeTestServices: true, timeout: "30 seconds" })("a client under TestClock", (it) => {
  it.effect("appends, reads, subscribes and fails with typed errors, the Clock standing still", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const run = Effect.gen(function*() {
        const context = yield* Layer.build(EventStoreDB.layer({ connectionString: node.connectionString }).pipe(Layer.orDie))
        const streams = Context.get(context, Streams)
        const groups = Context.get(context, PersistentSubscriptions)
        const stream = uniqueStream("test-clock")
        yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
        yield* streams.append(stream, newEvents(1), { currentVersion: 1n, timeout: "5 seconds" })
        const events = yield* streams.get(stream, { timeout: "5 seconds" })
        const subscribed = yield* Stream.runCollect(
          streams.subscribeToStream(stream).pipe(Stream.filter(isRecorded), Stream.take(3))
        )
        const missing = yield* Effect.flip(groups.getInfoToStream(stream, "no-such-group"))
        return { events: events.length, subscribed: subscribed.length, missing: missing._tag }
      })
      const result = yield* Effect.scoped(run).pipe(Effect.provide(TestClock.layer()))
      assert.deepStrictEqual(result, { events: 3, subscribed: 3, missing: "SubscriptionNotFound" })
    }))
})
