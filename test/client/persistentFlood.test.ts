/**
 * A node that ignores the consumer's buffer size: a grpc-js server whose persistent `Read` writes
 * 64 KiB events as fast as HTTP/2 flow control lets it, acks or not. A consumer that has stopped
 * taking events must hold the node back (its call is paused once 64 events wait, then the HTTP/2
 * windows fill), not buffer everything the node sends; when the consumer takes events again, they
 * all come, in order.
 */
import * as grpc from "@grpc/grpc-js"
import { assert, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { PersistentSubscriptions } from "../../src/index.ts"
import * as EventStoreDB from "../../src/layers/EventStoreDB.ts"
import { PersistentSubscriptionsService, type ReadReq, type ReadResp } from "../../src/generated/persistent.ts"

const EVENT_BYTES = 64 * 1024
const data = Buffer.alloc(EVENT_BYTES, 0x61)

const eventOf = (n: number): ReadResp => ({
  content: {
    $case: "event",
    value: {
      event: {
        id: { value: { $case: "string", value: `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}` } },
        streamIdentifier: { streamName: Buffer.from("flood") },
        streamRevision: BigInt(n),
        preparePosition: 0n,
        commitPosition: 0n,
        metadata: [{ key: "type", value: "Flood" }, { key: "content-type", value: "application/octet-stream" }],
        customMetadata: Buffer.alloc(0),
        data
      },
      count: { $case: "retryCount", value: 0 }
    }
  }
})

/** The flooding node: counts what it managed to hand to HTTP/2. */
const startFloodingNode = () =>
  Effect.acquireRelease(
    Effect.callback<{ readonly port: number; readonly written: () => number; readonly server: grpc.Server }>((resume) => {
      let written = 0
      const server = new grpc.Server()
      const unimplemented = (_: unknown, callback: grpc.sendUnaryData<never>) =>
        callback({ code: grpc.status.UNIMPLEMENTED, details: "not here" })
      const handlers: Record<string, unknown> = {}
      for (const name of Object.keys(PersistentSubscriptionsService)) handlers[name] = unimplemented
      handlers["read"] = (call: grpc.ServerDuplexStream<ReadReq, ReadResp>) => {
        let stopped = false
        call.on("data", () => {})
        call.on("cancelled", () => {
          stopped = true
        })
        call.on("error", () => {
          stopped = true
        })
        call.write({ content: { $case: "subscriptionConfirmation", value: { subscriptionId: "flood" } } })
        const pump = () => {
          while (!stopped && written < 100_000) {
            if (!call.write(eventOf(written++))) {
              call.once("drain", pump)
              return
            }
          }
        }
        pump()
      }
      server.addService(PersistentSubscriptionsService, handlers as grpc.UntypedServiceImplementation)
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
        if (error) resume(Effect.die(error))
        else resume(Effect.succeed({ port, written: () => written, server }))
      })
    }),
    ({ server }) => Effect.sync(() => server.forceShutdown())
  )

it.live("a node that ignores the buffer size is held back while the consumer takes nothing", () =>
  Effect.gen(function*() {
    const node = yield* startFloodingNode()
    yield* consumeStalled(node).pipe(
      Effect.provide(EventStoreDB.layer({ connectionString: `esdb://127.0.0.1:${node.port}?tls=false` }))
    )
  }).pipe(Effect.scoped), { timeout: 30_000 })

/** A consumer that stalls on its first event, then takes events again. */
const consumeStalled = (node: { readonly written: () => number }) =>
  Effect.gen(function*() {
    const groups = yield* PersistentSubscriptions.PersistentSubscriptions
    const sub = yield* groups.readToStream("flood", "group", { bufferSize: 10 })
    const firstTaken = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    let taken = 0
    let inOrder = true
    const consumer = yield* Stream.runForEach(sub.events, (event) =>
      Effect.gen(function*() {
        if (event.streamPosition !== BigInt(taken)) inOrder = false
        taken++
        if (taken === 1) {
          yield* Deferred.succeed(firstTaken, undefined)
          // the consumer stalls on its first event
          yield* Deferred.await(release)
        }
      })).pipe(Effect.forkScoped)
    // the consumer failing would end the test here
    yield* Effect.raceFirst(Deferred.await(firstTaken), Fiber.join(consumer))
    // let the node write all it can
    yield* Effect.sleep("1500 millis")
    const whileStalled = node.written()
    // 64 waiting in the inbox, grpc-js's few, and two 4 MiB HTTP/2 windows (ours and the node's
    // send buffer) of 64 KiB events: a few hundred at most, where an unbounded reader takes all
    assert.isBelow(whileStalled, 1000, `the node wrote ${whileStalled} events to a stalled consumer`)
    assert.isAbove(whileStalled, 10)
    yield* Deferred.succeed(release, undefined)
    // taking again lets the node go on: everything it writes arrives, in order
    while (taken < whileStalled + 500) yield* Effect.sleep("10 millis")
    assert.isTrue(inOrder)
    yield* Fiber.interrupt(consumer)
  }).pipe(Effect.scoped)
