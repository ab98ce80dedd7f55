/**
 * Shared helpers for the client tests: an embedded node started per test file, an effect-esdb
 * client connected to it over real gRPC (loopback), and small helpers to make tests read like
 * examples.
 */
import * as net from "node:net"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { NewEvent } from "../../src/domain/NewEvent.ts"
import type { RecordedEvent } from "../../src/domain/RecordedEvent.ts"
import type { ConnectionOptions } from "../../src/internal/transport/Options.ts"
import * as EventStoreDB from "../../src/layers/EventStoreDB.ts"
import * as Streams from "../../src/services/Streams.ts"
import { Auth } from "../../src/server/Auth.ts"
import { EmbeddedNode, type EmbeddedNodeOptions } from "../../src/server/EmbeddedNode.ts"

export { EmbeddedNode }
import { Store } from "../../src/server/storage/Store.ts"
import { GrpcServer } from "../../src/server/transport/GrpcServer.ts"
import type { ServerCall } from "../../src/server/transport/ServerCall.ts"
import { makeReadHandler } from "../../src/server/handlers/ReadHandler.ts"
import { makeStreamsHandler, StreamsServiceDefinition } from "../../src/server/handlers/StreamsHandler.ts"

/** Options passed to the embedded node. */
export type NodeOptions = EmbeddedNodeOptions

/** Starts an embedded node (insecure by default) for the layer's lifetime. */
export const nodeLayer = (options: NodeOptions = { insecure: true }): Layer.Layer<EmbeddedNode> => EmbeddedNode.layer(options)

/** The effect-esdb client layer, connected with the test node's own connection string. */
export const clientLayer = (
  options: Omit<ConnectionOptions, "connectionString"> & { readonly rewrite?: (connectionString: string) => string } = {}
): Layer.Layer<EventStoreDB.Services, never, EmbeddedNode> =>
  Layer.unwrap(
    Effect.map(EmbeddedNode, (node) =>
      EventStoreDB.layer({
        ...options,
        connectionString: options.rewrite ? options.rewrite(node.connectionString) : node.connectionString
      }).pipe(Layer.orDie))
  )

/**
 * A node plus a client connected to it: the usual environment of a test file, as a user writes it
 * (the public `EmbeddedNode.layerClient`).
 */
export const nodeWithClient = (
  nodeOptions: NodeOptions = { insecure: true },
  connectionOptions: Omit<ConnectionOptions, "connectionString"> = {}
): Layer.Layer<EventStoreDB.Services | EmbeddedNode> =>
  EmbeddedNode.layerClient({ ...nodeOptions, client: connectionOptions }).pipe(Layer.orDie)

/** The one bounded wait of the tests (test/support/eventually.ts). */
export { eventually } from "../support/eventually.ts"
/** A stream name no other test uses (test/support/unique.ts). */
export { uniqueId, uniqueName, uniqueStream } from "../support/unique.ts"

/** `n` JSON events `{ "i": k }` of the given type. */
export const newEvents = (n: number, type = "TestEvent"): Array<NewEvent> =>
  Array.from({ length: n }, (_, i) => new NewEvent({ type, data: JSON.stringify({ i }) }))

/** Collects a stream into an array. */
export const collect = <A, E, R>(stream: Stream.Stream<A, E, R>): Effect.Effect<Array<A>, E, R> =>
  Effect.map(Stream.runCollect(stream), (chunk) => Array.from(chunk))

/** Only the recorded events of a subscription (drops checkpoints and caught-up markers). */
export const isRecorded = (item: { readonly _tag: string }): item is RecordedEvent => item._tag === "RecordedEvent"

/** The `i` field of the JSON data of events made by {@link newEvents}. */
export const indexOf = (event: RecordedEvent): number => (JSON.parse(event.dataText) as { i: number }).i

/** Replaces the `host:port` of a connection string. */
export const withHostPort = (connectionString: string, hostPort: string): string =>
  connectionString.replace(/^([a-z+]+:\/\/(?:[^@/]*@)?)[^/?,]+/i, `$1${hostPort}`)

/** Turns `esdb://...` into `esdb+discover://...`. */
export const asDiscover = (connectionString: string): string =>
  connectionString.replace(/^([a-z]+):\/\//i, "$1+discover://")

/** A port on 127.0.0.1 that nothing listens on (bound, read and released). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      server.close(() => resolve(address.port))
    })
  })

/**
 * A TCP proxy on 127.0.0.1 in front of a node. `stop()` closes the listening socket and destroys
 * every open connection (a network fault as the client sees it); `start()` listens again on the
 * same port.
 */
export interface TcpProxy {
  readonly port: number
  readonly connections: () => number
  /** Connections accepted since the proxy was made. */
  readonly accepted: () => number
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
}

/** Starts a {@link TcpProxy} forwarding to `target`. */
export const startProxy = async (target: { readonly host: string; readonly port: number }, port = 0): Promise<TcpProxy> => {
  const sockets = new Set<net.Socket>()
  let server: net.Server | undefined
  let boundPort = port
  let accepted = 0
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        accepted++
        const upstream = net.connect(target.port, target.host)
        sockets.add(client)
        sockets.add(upstream)
        const drop = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on("error", drop)
        upstream.on("error", drop)
        client.on("close", drop)
        upstream.on("close", drop)
        client.pipe(upstream)
        upstream.pipe(client)
      })
      s.once("error", reject)
      s.listen(boundPort, "127.0.0.1", () => {
        boundPort = (s.address() as net.AddressInfo).port
        server = s
        resolve()
      })
    })
  await listen()
  return {
    get port() {
      return boundPort
    },
    connections: () => sockets.size / 2,
    accepted: () => accepted,
    stop: () =>
      new Promise<void>((resolve) => {
        const s = server
        server = undefined
        for (const socket of sockets) socket.destroy()
        sockets.clear()
        if (s === undefined) return resolve()
        s.close(() => resolve())
      }),
    start: listen
  }
}

/** Acquires a {@link TcpProxy} for the current scope. */
export const proxyScoped = (target: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(
    Effect.promise(() => startProxy(target)),
    (proxy) => Effect.promise(() => proxy.stop())
  )

/**
 * Runs `effect` with a client made from `connectionString` (closed afterwards). The layer is
 * built fresh: the service layers inside `EventStoreDB.layer` are constants, which a surrounding
 * test layer's memo map would otherwise hand back already built on the other connection.
 */
export const withClient = <A, E, R>(
  connectionString: string,
  effect: Effect.Effect<A, E, R>,
  options: Omit<ConnectionOptions, "connectionString"> = {}
): Effect.Effect<A, E, Exclude<R, EventStoreDB.Services>> =>
  Effect.provide(effect, Layer.fresh(EventStoreDB.layer({ ...options, connectionString }).pipe(Layer.orDie))) as Effect.Effect<
    A,
    E,
    Exclude<R, EventStoreDB.Services>
  >

/**
 * An insecure node assembled from the embedded node's own parts, with the one probe the embedded
 * node does not offer: the `authorization` header of every call it received (what a client sends
 * without TLS). Everything else a test needs of a node comes from the embedded node itself
 * (`EmbeddedNode`, `nodeStats` for the Read calls it serves).
 */
export interface SpyNode {
  readonly host: string
  readonly port: number
  readonly connectionString: string
  readonly authorizationHeaders: Array<string | undefined>
  readonly stop: () => Promise<void>
}

/** Starts a {@link SpyNode} on a free port. */
export const startSpyNode = async (): Promise<SpyNode> => {
  const store = new Store()
  const activeReads = new Set<() => void>()
  const authorizationHeaders: Array<string | undefined> = []
  const auth = new Auth(store, true)
  const handlers = makeStreamsHandler({
    store,
    auth,
    read: makeReadHandler({ store, auth, readFraming: "message", activeReads }),
    maxAppendSize: 256 * 1024 * 1024,
    maxAppendEventSize: 16 * 1024 * 1024
  }) as Record<string, (call: ServerCall, ...rest: Array<unknown>) => unknown>
  const spied = Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [
      name,
      (call: ServerCall, ...rest: Array<unknown>) => {
        const value = call.metadata.get("authorization")[0]
        authorizationHeaders.push(value === undefined ? undefined : String(value))
        return handler(call, ...rest)
      }
    ])
  )
  // the node's own transport (src/server/transport), as the embedded node serves
  const server = new GrpcServer({ maxConcurrentStreams: 100 })
  server.addService(StreamsServiceDefinition, spied as never)
  const port = await server.listen("127.0.0.1", 0)
  return {
    host: "127.0.0.1",
    port,
    connectionString: `esdb://127.0.0.1:${port}?tls=false`,
    authorizationHeaders,
    stop: () => {
      for (const end of Array.from(activeReads)) end()
      return server.shutdown(1000)
    }
  }
}

/** A {@link SpyNode} for the layer's lifetime. */
export class TestSpyNode extends Context.Service<TestSpyNode, SpyNode>()("test/TestSpyNode") {}

/** Starts a {@link SpyNode} for the layer's lifetime. */
export const spyNodeLayer: Layer.Layer<TestSpyNode> = Layer.effect(
  TestSpyNode,
  Effect.acquireRelease(Effect.promise(() => startSpyNode()), (node) => Effect.promise(() => node.stop()))
)

/** A Streams service of its own connection, closed with the scope: for tests that need two clients. */
export const makeStreams = (
  connectionString: string,
  options: Omit<ConnectionOptions, "connectionString"> = {}
): Effect.Effect<Streams.Streams, never, Scope.Scope> =>
  Effect.map(
    Layer.build(EventStoreDB.layer({ ...options, connectionString }).pipe(Layer.orDie)),
    (context) => Context.get(context, Streams.Streams)
  )
