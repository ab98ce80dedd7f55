/**
 * The connection cap: long-lived calls spread over at most `maxConnections` connections (default
 * 16), calls beyond their places wait, and the extra connections are closed once idle. A proxy in
 * front of the node counts the connections the client opens.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Transport from "../../src/internal/transport/Transport.ts"
import * as Streams from "../../src/services/Streams.ts"
import { EmbeddedNode, eventually, isRecorded, newEvents, nodeLayer, proxyScoped, uniqueStream, withHostPort } from "./_support.ts"

const RUNS = 10_000

layer(nodeLayer(), { excludeTestServices: true, timeout: "180 seconds" })("connection cap", (it) => {
  it.effect("10,000 concurrent runs of one subscription stay within the cap; the extra connections close once idle", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const proxy = yield* proxyScoped(node)
      // the transport itself, to read its count of open connections
      const transport = yield* Transport.make({
        connectionString: withHostPort(node.connectionString, `127.0.0.1:${proxy.port}`),
        idleConnectionTimeout: "1 second"
      }).pipe(Effect.orDie)
      const streams = yield* Streams.make(transport)
      const stream = uniqueStream("cap")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      // one subscription, run 10,000 times at once: each run ends with the stream's event
      const subscription = streams.subscribeToStream(stream).pipe(Stream.filter(isRecorded), Stream.take(1))
      let peak = 0
      const watch = yield* Effect.forkChild(Effect.forever(Effect.andThen(
        Effect.sync(() => {
          peak = Math.max(peak, transport.connections(), proxy.connections())
        }),
        Effect.sleep("5 millis")
      )))
      const counts = yield* Effect.forEach(
        Array.from({ length: RUNS }),
        () => Effect.map(Stream.runCollect(subscription), (events) => events.length),
        { concurrency: "unbounded" }
      )
      watch.interruptUnsafe()
      assert.strictEqual(counts.filter((n) => n === 1).length, RUNS, "every run received the event")
      // every connection the client ever opened, counted by the proxy, is within the cap
      assert.isAtMost(proxy.accepted(), Transport.DEFAULT_MAX_CONNECTIONS)
      assert.isAtMost(peak, Transport.DEFAULT_MAX_CONNECTIONS)
      assert.isAbove(proxy.accepted(), 1, "the calls were spread over several connections")
      // once idle, the extra connections are closed: the primary one stays
      yield* eventually("the extra connections are closed", () => proxy.connections() === 1 && transport.connections() === 1)
    }), { timeout: 180_000 })
})
