/**
 * `PersistentSubscriptions.consumeToStream` / `consumeToAll` against the embedded node: a handler failing at random, with
 * a drop forced by the node in the middle, loses no event (each is handled or parked as the
 * policy says); interrupting the consumer lets the running handlers finish and acks them;
 * ordered per stream; metrics; bad policies refused.
 */
import { assert, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Data from "effect/Data"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import { PersistentSubscriptions, Streams } from "../../src/index.ts"
import { eventually, newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

class PaymentRefused extends Data.TaggedError("PaymentRefused")<{ readonly message: string }> {}

layer(nodeWithClient(), { excludeTestServices: true, timeout: "60 seconds" })("persistent subscriptions: consume", (it) => {
  it.effect("random failures and a drop in the middle: every event handled or parked after maxRetries, none lost", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("consume")
      const group = uniqueStream("g")
      const n = 10_000
      for (let i = 0; i < n; i += 1000) yield* streams.append(stream, newEvents(1000), { currentVersion: "any" })
      const settings = { maxRetryCount: 10, messageTimeout: 10_000, maxCheckpointCount: 100, minCheckpointCount: 10 }
      yield* ps.createToStream(stream, group, { from: "start", settings })
      const handled = new Set<bigint>()
      const gaveUp = new Set<bigint>()
      let calls = 0
      const fiber = yield* Effect.forkChild(ps.consumeToStream(
        stream,
        group,
        (event) =>
          Effect.suspend(() => {
            calls++
            if (Math.random() < 0.2) {
              if ((event.retryCount ?? 0) >= 2) gaveUp.add(event.streamPosition)
              return Effect.fail("unlucky")
            }
            handled.add(event.streamPosition)
            return Effect.void
          }),
        { concurrency: 8, maxRetries: 2 }
      ))
      yield* eventually("half handled", () => handled.size >= n / 2)
      // the node drops the consumer (an update restarts the group): it connects again
      yield* ps.updateToStream(stream, group, { settings })
      yield* eventually("every event handled or given up", () => {
        for (let i = 0n; i < BigInt(n); i++) if (!handled.has(i) && !gaveUp.has(i)) return false
        return true
      })
      yield* Fiber.interrupt(fiber)
      assert.isAbove(calls, n)
      // what was given up on is in the parked stream
      const parked = yield* streams.get(`$persistentsubscription-${stream}::${group}-parked`).pipe(
        Effect.catchTag("NotFound", () => Effect.succeed([]))
      )
      const parkedPositions = new Set(parked.map((e) => BigInt(e.dataText.split("@")[0]!)))
      for (const p of parkedPositions) assert.isTrue(gaveUp.has(p), `${p} parked without reaching maxRetries`)
      for (const p of gaveUp) if (!handled.has(p)) assert.isTrue(parkedPositions.has(p), `${p} given up but not parked`)
      const metrics = yield* Metric.value(Metric.counter("esdb_persistent_handled", { description: "Events handled and acked", attributes: { stream, group } }))
      assert.isAtLeast(Number(metrics.count), handled.size)
    }))

  it.effect("interrupted, it lets the running handlers finish and acks them; the others go back to the group", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("consume-int")
      const group = uniqueStream("g")
      yield* streams.append(stream, newEvents(20), { currentVersion: "no_stream" })
      yield* ps.createToStream(stream, group, { from: "start", settings: { messageTimeout: 10_000 } })
      const started = new Set<bigint>()
      const done = new Set<bigint>()
      const fiber = yield* Effect.forkChild(ps.consumeToStream(
        stream,
        group,
        (event) =>
          Effect.sync(() => started.add(event.streamPosition)).pipe(
            Effect.andThen(Effect.sleep(Duration.millis(100))),
            Effect.andThen(Effect.sync(() => done.add(event.streamPosition)))
          ),
        { concurrency: 4, bufferSize: 20 }
      ))
      yield* eventually("four handlers running", () => started.size >= 4)
      yield* Fiber.interrupt(fiber)
      // the running handlers finished
      assert.deepStrictEqual([...started].sort(), [...done].sort())
      assert.isBelow(done.size, 20)
      // acked: a new consumer gets exactly the others
      const again = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 20 }), (sub) =>
        sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.take(20 - done.size), Stream.runCollect)))
      const redelivered = Array.from(again).map((e) => e.streamPosition)
      for (const p of redelivered) assert.isFalse(done.has(p), `${p} was handled and acked, yet delivered again`)
      assert.strictEqual(new Set([...redelivered, ...done]).size, 20)
    }))

  it.effect("orderedPerStream handles the events of a stream one at a time, in order", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const prefix = uniqueStream("consume-ord")
      const group = uniqueStream("g")
      yield* ps.createToAll(group, { from: "end", filterInclude: `${prefix}-.*`, filterByStreamName: true })
      const seen = new Map<string, Array<bigint>>()
      let running = 0
      let overlap = false
      const busy = new Set<string>()
      const fiber = yield* Effect.forkChild(ps.consumeToAll(
        group,
        (event) =>
          Effect.gen(function*() {
            if (busy.has(event.streamName)) overlap = true
            busy.add(event.streamName)
            running++
            yield* Effect.sleep(Duration.millis(Math.floor(Math.random() * 5)))
            seen.set(event.streamName, [...(seen.get(event.streamName) ?? []), event.streamPosition])
            running--
            busy.delete(event.streamName)
          }),
        { concurrency: 8, orderedPerStream: true }
      ))
      yield* Effect.sleep(Duration.millis(200))
      for (let round = 0; round < 5; round++) {
        for (let s = 0; s < 4; s++) yield* streams.append(`${prefix}-${s}`, newEvents(2), { currentVersion: "any" })
      }
      yield* eventually("40 events", () => [...seen.values()].reduce((a, b) => a + b.length, 0) >= 40)
      yield* Fiber.interrupt(fiber)
      assert.isFalse(overlap)
      for (const positions of seen.values()) assert.deepStrictEqual(positions, positions.map((_, i) => BigInt(i)))
      assert.strictEqual(running, 0)
    }))

  it.effect("a failed event is parked with the error's tag and message as the reason (long ones cut to what a nack carries)", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("consume-reason")
      const group = uniqueStream("g")
      yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
      yield* ps.createToStream(stream, group)
      const reasons = [
        new PaymentRefused({ message: "card expired" }),
        new Error("plain error"),
        new PaymentRefused({ message: "x".repeat(10_000) })
      ]
      const fiber = yield* Effect.forkChild(ps.consumeToStream(
        stream,
        group,
        (event) => Effect.fail(reasons[Number(event.streamPosition)]!),
        { maxRetries: 0 }
      ))
      const parkedStream = `$persistentsubscription-${stream}::${group}-parked`
      const parked = () => streams.get(parkedStream).pipe(Effect.catchTag("NotFound", () => Effect.succeed([])))
      let links: ReadonlyArray<{ readonly metadata: Uint8Array; readonly dataText: string }> = []
      yield* Effect.gen(function*() {
        while ((links = yield* parked()).length < 3) yield* Effect.sleep(Duration.millis(20))
      }).pipe(Effect.timeoutOrElse({ duration: Duration.seconds(20), orElse: () => Effect.die(new Error("never parked")) }))
      yield* Fiber.interrupt(fiber)
      const reasonOf = (position: number) => {
        const link = links.find((l) => l.dataText.startsWith(`${position}@`))!
        return (JSON.parse(new TextDecoder().decode(link.metadata)) as { Reason: string }).Reason
      }
      // the node prefixes the nack's reason with its own words
      assert.isTrue(reasonOf(0).endsWith("\nPaymentRefused: card expired"), reasonOf(0))
      assert.isTrue(reasonOf(1).endsWith("\nError: plain error"), reasonOf(1))
      const long = reasonOf(2).split("\n").at(-1)!
      assert.strictEqual(long.length, 4096)
      assert.isTrue(long.startsWith("PaymentRefused: xxx") && long.endsWith("…"))
    }))

  it.effect("a consumer given a timeout stops after it with DeadlineExceeded, its handlers finished", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("consume-timeout")
      const group = uniqueStream("g")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      yield* ps.createToStream(stream, group)
      const handled: Array<bigint> = []
      const error = yield* Effect.flip(ps.consumeToStream(
        stream,
        group,
        (event) => Effect.sync(() => handled.push(event.streamPosition)),
        { timeout: "1 second" }
      ))
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.deepStrictEqual(handled, [0n, 1n])
    }))

  it.effect("bad policies are InvalidArgument", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      for (
        const policy of [
          { concurrency: 0 },
          { maxRetries: -1 },
          { finalAction: "explode" as "park" },
          { bufferSize: 0 }
        ]
      ) {
        const error = yield* Effect.flip(ps.consumeToStream("s", "g", () => Effect.void, policy))
        assert.strictEqual(error._tag, "InvalidArgument")
      }
      assert.strictEqual((yield* Effect.flip(ps.consumeToAll("", () => Effect.void)))._tag, "InvalidArgument")
      assert.strictEqual((yield* Effect.flip(ps.consumeToStream("$all", "g", () => Effect.void)))._tag, "InvalidArgument")
    }))
})
