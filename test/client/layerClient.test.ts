/**
 * `EmbeddedNode.layerClient`: one line gives a test an embedded node and a client connected to it
 * (insecure or TLS), and both close with the layer's scope.
 */
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import { NewEvent, PersistentSubscriptions, Streams } from "../../src/index.ts"
import { EmbeddedNode, nodeStats } from "../../src/server/EmbeddedNode.ts"
import { uniqueStream } from "./_support.ts"

const roundTrip = Effect.gen(function*() {
  const streams = yield* Streams.Streams
  const stream = uniqueStream("layer-client")
  const created = NewEvent.json("OrderCreated", { order: 1 })
  yield* streams.append(stream, created, { currentVersion: "no_stream" })
  const [recorded] = yield* streams.get(stream)
  return { created, recorded: recorded! }
})

/** Whether something accepts TCP connections on 127.0.0.1:port. */
const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

describe("EmbeddedNode.layerClient", () => {
  it.live("provides a client connected to a fresh insecure node, and the node", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      assert.isTrue(node.insecure)
      const before = nodeStats(node).records
      const { created, recorded } = yield* roundTrip
      assert.isTrue(recorded.equals(created))
      // the client wrote to this node
      assert.strictEqual(nodeStats(node).records, before + 1)
    }).pipe(Effect.provide(EmbeddedNode.layerClient())))

  it.live("connects over TLS, with the node's credentials and CA, when the node is secure", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      assert.isFalse(node.insecure)
      assert.include(node.connectionString, "tls=true")
      const { created, recorded } = yield* roundTrip
      assert.isTrue(recorded.equals(created))
    }).pipe(Effect.provide(EmbeddedNode.layerClient({ insecure: false }))))

  it.effect("under it.effect (TestClock) the node answers in real time; what the client waits in Effect time waits for the TestClock", () =>
    Effect.gen(function*() {
      // calls are real I/O: they complete without moving the clock
      const { created, recorded } = yield* roundTrip
      assert.isTrue(recorded.equals(created))
      // a consumer's timeout is Effect time: it passes when the test moves the clock
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("test-clock")
      yield* ps.createToStream(stream, "g")
      const fiber = yield* Effect.forkChild(ps.consumeToStream(stream, "g", () => Effect.void, { timeout: "1 hour" }))
      yield* TestClock.adjust("59 minutes")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail")
      assert.strictEqual(Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail" ? exit.cause.reasons[0].error._tag : "", "DeadlineExceeded")
    }).pipe(Effect.provide(EmbeddedNode.layerClient())))

  it.live("the node's scope and the client's close together", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(EmbeddedNode.layerClient({ client: { tracing: false } }), scope)
      const node = Context.get(context, EmbeddedNode)
      const { recorded } = yield* Effect.provide(roundTrip, context)
      assert.strictEqual(recorded.streamPosition, 0n)
      assert.isTrue(yield* Effect.promise(() => accepts(node.port)))
      yield* Scope.close(scope, Exit.void)
      // the node stopped listening, its reads and subscriptions ended
      assert.isFalse(yield* Effect.promise(() => accepts(node.port)))
      assert.strictEqual(nodeStats(node).activeReads, 0)
      assert.strictEqual(nodeStats(node).storeListeners, 0)
    }))
})
