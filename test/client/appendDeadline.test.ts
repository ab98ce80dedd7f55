/**
 * An append whose deadline passes before it is written is never written later: against a node
 * that stops reading the BatchAppend call (HTTP/2 flow control holds the client's writes), the
 * appends waiting to be written fail with DeadlineExceeded, and once the node reads again, only
 * the appends that had been handed over before their deadline arrive; the rest are dropped.
 *
 * The deadlines run on Effect's Clock: with the client made on a `TestClock`, an unanswered append
 * outlives its timeout in live time and fails once the TestClock passes it (to the sweep's 50 ms).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import * as http2 from "node:http2"
import type { AddressInfo } from "node:net"
import { NewEvent, Streams } from "../../src/index.ts"
import * as EventStoreDB from "../../src/layers/EventStoreDB.ts"
import { BatchAppendReq } from "../../src/generated/streams.ts"
import { eventually } from "../support/eventually.ts"

/** A gRPC server that answers nothing and reads the BatchAppend call only when told to. */
const stalledNode = () =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ port: number; received: () => Array<string>; resume: () => void; close: () => Promise<void> }>((resolve) => {
        const streams = new Set<http2.ServerHttp2Stream>()
        const chunks: Array<Buffer> = []
        const server = http2.createServer()
        server.on("stream", (stream) => {
          stream.on("error", () => {})
          streams.add(stream)
          stream.respond({ ":status": 200, "content-type": "application/grpc" })
          // not reading: the stream's window fills and the client cannot send more
          stream.pause()
        })
        server.listen(0, "127.0.0.1", () =>
          resolve({
            port: (server.address() as AddressInfo).port,
            resume: () => {
              for (const stream of streams) {
                stream.on("data", (chunk: Buffer) => chunks.push(chunk))
                stream.resume()
              }
            },
            // the stream names of the BatchAppendReq messages read so far
            received: () => {
              const data = Buffer.concat(chunks)
              const names: Array<string> = []
              let offset = 0
              while (offset + 5 <= data.length) {
                const length = data.readUInt32BE(offset + 1)
                if (offset + 5 + length > data.length) break
                const request = BatchAppendReq.decode(data.subarray(offset + 5, offset + 5 + length))
                const name = request.options?.streamIdentifier?.streamName.toString("utf8")
                if (name !== undefined) names.push(name)
                offset += 5 + length
              }
              return names
            },
            close: () =>
              new Promise<void>((done) => {
                for (const stream of streams) stream.destroy()
                server.close(() => done())
              })
          }))
      })
    ),
    (node) => Effect.promise(() => node.close())
  )

describe("append deadlines", () => {
  it.live("appends whose deadline passed while waiting to be written are never written", () =>
    Effect.gen(function*() {
      const node = yield* stalledNode()
      const client = yield* Layer.build(EventStoreDB.layer({ connectionString: `esdb://127.0.0.1:${node.port}?tls=false` }))
      const streams = Context.get(client, Streams.Streams)
      const payload = new Uint8Array(100 * 1024).fill(7)
      const count = 40
      const results = yield* Effect.all(
        Array.from({ length: count }, (_, i) =>
          Effect.flip(
            streams.append(`late-${i}`, new NewEvent({ type: "Big", data: payload }), { currentVersion: "any", timeout: "400 millis" })
          )),
        { concurrency: "unbounded" }
      )
      for (const error of results) assert.strictEqual(error._tag, "DeadlineExceeded")

      node.resume()
      // a marker appended after them on the same call: once the node has read it, it has read
      // everything the client wrote before it (no guessed pause)
      yield* Effect.forkScoped(
        streams.append("marker", new NewEvent({ type: "Marker", data: "{}" }), { currentVersion: "any", timeout: "15 seconds" })
      )
      const all = yield* eventually("the marker read by the node", () => node.received(), { until: (names) => names.includes("marker") })
      const received = all.filter((name) => name !== "marker")
      assert.strictEqual(all[all.length - 1], "marker", "nothing after the marker")
      // what had been handed to grpc-js before the deadline arrives, in order; the rest never does
      assert.isAbove(received.length, 0)
      assert.isBelow(received.length, count, `${received.length} of ${count} appends were written after their deadline`)
      assert.deepStrictEqual(received, Array.from({ length: received.length }, (_, i) => `late-${i}`))
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it.live("an unanswered append fails when the deadline passes on the client's Clock (TestClock), not on the wall clock", () =>
    Effect.gen(function*() {
      const node = yield* stalledNode()
      const clock = yield* TestClock.make()
      const onTestClock = Effect.provideService(Clock.Clock, clock)
      const client = yield* Layer.build(EventStoreDB.layer({ connectionString: `esdb://127.0.0.1:${node.port}?tls=false` })).pipe(onTestClock)
      const streams = Context.get(client, Streams.Streams)
      const append = yield* Effect.forkScoped(
        streams.append("unanswered", new NewEvent({ type: "Small", data: "{}" }), { currentVersion: "any", timeout: "1 second" }).pipe(
          Effect.flip,
          onTestClock
        )
      )
      // live time well past the timeout: the TestClock has not moved, the append still waits
      yield* Effect.sleep("1500 millis")
      assert.isUndefined(append.pollUnsafe(), "the append failed on the wall clock")
      // just short of the deadline on the TestClock: still waiting
      yield* clock.adjust("950 millis")
      yield* Effect.sleep("100 millis")
      assert.isUndefined(append.pollUnsafe(), "the append failed before its deadline")
      // past it (and the next sweep): DeadlineExceeded
      yield* clock.adjust("100 millis")
      const error = yield* Fiber.join(append)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.include(error.message, "did not complete within 1000 ms")
    }).pipe(Effect.scoped), { timeout: 20_000 })
})
