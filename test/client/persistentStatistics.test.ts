/**
 * GetInfo's live statistics against the embedded node, as a real node measures them: while a
 * consumer takes events, the group's `averagePerSecond` and `countSinceLastMeasurement` (and each
 * connection's) are those since the previous measurement, so not 0; once the group is idle they
 * fall to 0 at the next measurement. A group with `extraStatistics` reports each connection's
 * push-to-ack times.
 */
import { assert, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { PersistentSubscriptions, type RecordedEvent, Streams } from "../../src/index.ts"
import { infoUntil } from "./_persistent.ts"
import { newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("persistent subscriptions: live statistics", (it) => {
  it.effect("averagePerSecond is not 0 while events are consumed, and falls to 0 once the group is idle", () =>
    Effect.scoped(Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-rate")
      const group = uniqueStream("g")
      yield* ps.createToStream(stream, group, { from: "start" })
      const sub = yield* ps.readToStream(stream, group, { bufferSize: 20 })
      const received: Array<RecordedEvent> = []
      yield* Effect.forkScoped(Stream.runForEach(sub.events, (e) => Effect.andThen(Effect.sync(() => received.push(e)), sub.ack(e))))
      // a steady flow: 5 events every 20 ms
      let appended = 0
      const producer = yield* Effect.forkScoped(Effect.forever(
        streams.append(stream, newEvents(5), { currentVersion: "any" }).pipe(
          Effect.andThen(Effect.sync(() => (appended += 5))),
          Effect.andThen(Effect.sleep(Duration.millis(20)))
        )
      ))
      const busy = yield* infoUntil(stream, group, (info) =>
        info.averagePerSecond > 0 && info.countSinceLastMeasurement > 0n &&
        info.connections.length === 1 && info.connections[0]!.averageItemsPerSecond > 0)
      assert.isAbove(Number(busy.connections[0]!.countSinceLastMeasurement), 0)
      // bounded by what was delivered: not more than every event since the group started, per second
      assert.isAtMost(Number(busy.countSinceLastMeasurement), Number(busy.totalItems))
      yield* Fiber.interrupt(producer)
      // idle once every event was delivered and acked
      yield* Effect.gen(function*() {
        while (received.length < appended) yield* Effect.sleep(Duration.millis(5))
      }).pipe(Effect.timeout("5 seconds"))
      const idle = yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 0 && info.averagePerSecond === 0)
      assert.strictEqual(idle.countSinceLastMeasurement, 0n)
      assert.strictEqual(idle.connections[0]!.averageItemsPerSecond, 0)
      assert.strictEqual(idle.connections[0]!.countSinceLastMeasurement, 0n)
      assert.strictEqual(idle.totalItems, BigInt(appended))
    })))

  it.effect("a group with extraStatistics reports each connection's push-to-ack times; one without, none", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-extra")
      yield* streams.append(stream, newEvents(4), { currentVersion: "no_stream" })
      const keys = ["Mean", "Median", "Fastest", "Quintile 1", "Quintile 2", "Quintile 3", "Quintile 4", "Quintile 5", "90%", "95%", "99%", "99.5%", "99.9%", "Highest"]
      for (const extraStatistics of [true, false]) {
        const group = uniqueStream(`g-${extraStatistics}`)
        yield* ps.createToStream(stream, group, { from: "start", settings: { extraStatistics } })
        yield* Effect.scoped(Effect.gen(function*() {
          const sub = yield* ps.readToStream(stream, group, { bufferSize: 4, ackDelay: 0 })
          // the consumer stays connected: its statistics are those of a connection
          yield* Effect.forkScoped(sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.runDrain))
          const info = yield* infoUntil(stream, group, (i) =>
            i.connections.length === 1 && i.totalItems === 4n && i.totalInFlightMessages === 0)
          const measured = info.connections[0]!.observedMeasurements
          assert.deepStrictEqual(measured.map((m) => m.key), extraStatistics ? keys : [])
          for (const m of measured) assert.isAtLeast(Number(m.value), 0)
        }))
      }
    }))
})
