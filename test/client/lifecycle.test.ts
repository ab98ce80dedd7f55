/**
 * Lifetimes: every Stream the API returns is a description (each run is a new call with its own
 * cursor), a connection whose layer scope has closed stays closed (running reads and
 * subscriptions end with ConnectionClosed, later calls fail with it at once), and `reconnect`
 * replaces the connection once however many fibers ask at the same time.
 */
import { assert, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type CaughtUp, type Checkpoint, Connection, type RecordedEvent, Streams } from "../../src/index.ts"
import { clientLayer, collect, EmbeddedNode, eventually, indexOf, newEvents, nodeLayer, nodeWithClient, startProxy, uniqueStream, withHostPort } from "./_support.ts"

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("streams are descriptions", (it) => {
  it.effect("read and get: running the same value twice reads twice", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("rerun-read")
      yield* streams.append(stream, newEvents(5), { currentVersion: "no_stream" })
      const forwards = streams.read(stream)
      assert.deepStrictEqual((yield* collect(forwards)).map(indexOf), [0, 1, 2, 3, 4])
      assert.deepStrictEqual((yield* collect(forwards)).map(indexOf), [0, 1, 2, 3, 4])
      const limitedBackwards = streams.read(stream, { backwards: true, limit: 2 })
      assert.deepStrictEqual((yield* collect(limitedBackwards)).map(indexOf), [4, 3])
      assert.deepStrictEqual((yield* collect(limitedBackwards)).map(indexOf), [4, 3])
      const get = streams.get(stream, { limit: 3 })
      assert.strictEqual((yield* get).length, 3)
      assert.strictEqual((yield* get).length, 3)
      // a run sees what was appended since the previous run
      yield* streams.append(stream, newEvents(1), { currentVersion: 4n })
      assert.strictEqual((yield* collect(forwards)).length, 6)
    }))

  it.effect("readAll: running the same value twice reads twice", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("rerun-all")
      const type = `Rerun${stream.replace(/-/g, "")}`
      yield* streams.append(stream, newEvents(4, type), { currentVersion: "no_stream" })
      const all = streams.readAll({ filterInclude: type })
      assert.deepStrictEqual((yield* collect(all)).map(indexOf), [0, 1, 2, 3])
      assert.deepStrictEqual((yield* collect(all)).map(indexOf), [0, 1, 2, 3])
      const limited = streams.readAll({ filterInclude: type, limit: 2 })
      assert.deepStrictEqual((yield* collect(limited)).map(indexOf), [0, 1])
      assert.deepStrictEqual((yield* collect(limited)).map(indexOf), [0, 1])
    }))

  it.effect("subscribeToStream and subscribeToAll: each run is a new subscription from the start", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("rerun-sub")
      const type = `Sub${stream.replace(/-/g, "")}`
      yield* streams.append(stream, newEvents(3, type), { currentVersion: "no_stream" })
      const toStream = streams.subscribeToStream(stream).pipe(Stream.take(3))
      assert.deepStrictEqual((yield* collect(toStream)).map(indexOf), [0, 1, 2])
      assert.deepStrictEqual((yield* collect(toStream)).map(indexOf), [0, 1, 2])
      const toAll = streams.subscribeToAll({ filterInclude: type }).pipe(Stream.take(3))
      assert.deepStrictEqual((yield* collect(toAll)).map(indexOf), [0, 1, 2])
      assert.deepStrictEqual((yield* collect(toAll)).map(indexOf), [0, 1, 2])
    }))

  it.effect("subscriptions yield recorded events alone unless markers are asked for", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("markers")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      // the element type is RecordedEvent: no narrowing needed
      const plain: ReadonlyArray<RecordedEvent> = yield* collect(streams.subscribeToStream(stream).pipe(Stream.take(2)))
      assert.deepStrictEqual(plain.map((e) => e.streamPosition), [0n, 1n])
      // the types follow the options (checked by the typecheck)
      const _all: Stream.Stream<RecordedEvent, Streams.ReadAllError> = streams.subscribeToAll({ filterInclude: "x" })
      const _withCheckpoints: Stream.Stream<RecordedEvent | Checkpoint, Streams.ReadAllError> = streams.subscribeToAll({
        includeCheckpoints: true
      })
      // @ts-expect-error a CaughtUp may arrive, so the element type is not RecordedEvent alone
      const _notNarrowed: Stream.Stream<RecordedEvent, Streams.ReadAllError> = streams.subscribeToAll({ includeCaughtUp: true })
      const flag: boolean = Math.random() > 2
      // @ts-expect-error a flag known only at runtime may turn markers on
      const _maybe: Stream.Stream<RecordedEvent, Streams.SubscribeToStreamError> = streams.subscribeToStream(stream, { includeCaughtUp: flag })
      const _both: Stream.Stream<RecordedEvent | Checkpoint | CaughtUp, Streams.ReadAllError> = streams.subscribeToAll({
        includeCheckpoints: true,
        includeCaughtUp: true
      })
      const withCaughtUp = yield* collect(streams.subscribeToStream(stream, { includeCaughtUp: true }).pipe(Stream.take(3)))
      assert.deepStrictEqual(withCaughtUp.map((item) => item._tag), ["RecordedEvent", "RecordedEvent", "CaughtUp"])
    }))
})

layer(nodeLayer(), { excludeTestServices: true, timeout: "30 seconds" })("a closed connection stays closed", (it) => {
  it.effect("closing the layer's scope ends a running subscription and read; later calls fail with ConnectionClosed at once", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(clientLayer(), scope)
      const streams = Context.get(context, Streams.Streams)
      const stream = uniqueStream("closing")
      yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
      const received: Array<RecordedEvent> = []
      const subscription = yield* streams.subscribeToStream(stream).pipe(
        Stream.runForEach((event) => Effect.sync(() => received.push(event))),
        Effect.forkDetach
      )
      // a read long enough to still be running (paused by backpressure) when the scope closes
      const long = uniqueStream("closing-read")
      yield* streams.append(long, newEvents(2000), { currentVersion: "no_stream" })
      const slowRead = yield* streams.read(long).pipe(
        Stream.tap(() => Effect.sleep("5 millis")),
        Stream.runDrain,
        Effect.forkDetach
      )
      yield* eventually("the three events delivered", () => received.length >= 3)

      yield* Scope.close(scope, Exit.void)

      const ended = yield* Fiber.await(subscription).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(Exit.isFailure(ended))
      const subscriptionError = yield* Effect.flip(Fiber.join(subscription))
      assert.strictEqual(subscriptionError._tag, "ConnectionClosed")
      const readError = yield* Effect.flip(Fiber.join(slowRead).pipe(Effect.timeout("5 seconds")))
      assert.strictEqual(readError._tag, "ConnectionClosed")

      // later calls fail at once, without touching the network
      const started = Date.now()
      const appendError = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: "any" }))
      assert.strictEqual(appendError._tag, "ConnectionClosed")
      assert.strictEqual((yield* Effect.flip(streams.get(stream)))._tag, "ConnectionClosed")
      assert.strictEqual((yield* Effect.flip(collect(streams.subscribeToAll())))._tag, "ConnectionClosed")
      assert.strictEqual((yield* Effect.flip(streams.delete(stream, { currentVersion: "any" })))._tag, "ConnectionClosed")
      assert.isBelow(Date.now() - started, 1000)
      // nothing arrived after the close: an event appended now by another client is not delivered
      const other = yield* Layer.build(clientLayer())
      yield* Context.get(other, Streams.Streams).append(stream, newEvents(1), { currentVersion: 2n })
      yield* Effect.sleep("200 millis")
      assert.strictEqual(received.length, 3)
    }))

  it.effect("reconnect: twenty fibers asking at once make one new connection, and calls go on", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const proxy = yield* Effect.promise(() => startProxy({ host: "127.0.0.1", port: node.port }))
      yield* Effect.addFinalizer(() => Effect.promise(() => proxy.stop()))
      const context = yield* Layer.build(clientLayer({ rewrite: (cs) => withHostPort(cs, `127.0.0.1:${proxy.port}`) }))
      const streams = Context.get(context, Streams.Streams)
      const connection = Context.get(context, Connection.Connection)
      const stream = uniqueStream("reconnect")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      const accepted = proxy.accepted()

      yield* Effect.all(Array.from({ length: 20 }, () => connection.reconnect), { concurrency: "unbounded" })

      // one new connection, made (and connected) by the reconnect itself
      assert.strictEqual(proxy.accepted(), accepted + 1)
      yield* streams.append(stream, newEvents(1), { currentVersion: 0n })
      assert.deepStrictEqual((yield* streams.get(stream)).map(indexOf), [0, 0])
      assert.strictEqual(proxy.accepted(), accepted + 1, "the calls after it use that connection")
      // asked again later, it reconnects again
      yield* connection.reconnect
      assert.strictEqual(proxy.accepted(), accepted + 2)
      // a reconnect to a node that is gone fails with a typed error
      yield* Effect.promise(() => proxy.stop())
      const error = yield* Effect.flip(connection.reconnect)
      assert.strictEqual(error._tag, "ServiceUnavailable")
    }))
})
