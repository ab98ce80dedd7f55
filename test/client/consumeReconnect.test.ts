/**
 * `consume` reconnects after every failure catch-up subscriptions resume after (one list, in
 * Retry.ts): here a follower that answers NodeIsNotLeader (on a connection discovering with
 * NodePreference=leader, the consumer goes to the leader it names), and a discovery that fails until the seed can be reached (DiscoveryFailed). Each
 * reconnect is logged as a warning.
 */
import * as grpc from "@grpc/grpc-js"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { PersistentSubscriptions, type RecordedEvent, Streams } from "../../src/index.ts"
import { GossipService, MemberInfo_VNodeState } from "../../src/generated/gossip.ts"
import { PersistentSubscriptionsService } from "../../src/generated/persistent.ts"
import { recoveryLog } from "../support/recoveryLog.ts"
import { EmbeddedNode, eventually, newEvents, nodeWithClient, proxyScoped, uniqueStream, withClient } from "./_support.ts"

/**
 * A "follower" whose persistent-subscription Read refuses with not-leader, naming the leader; its
 * (stale) gossip lists itself as the Leader, so discovery picks it.
 */
const followerScoped = (leader: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      let reads = 0
      let port = 0
      const server = new grpc.Server()
      server.addService(GossipService as unknown as grpc.ServiceDefinition, {
        read: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
          callback(null, {
            members: [{ timeStamp: 0n, state: MemberInfo_VNodeState.Leader, isAlive: true, httpEndPoint: { address: "127.0.0.1", port } }]
          })
      })
      server.addService(PersistentSubscriptionsService as unknown as grpc.ServiceDefinition, {
        read: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
          reads++
          const metadata = new grpc.Metadata()
          metadata.set("exception", "not-leader")
          metadata.set("leader-endpoint-host", leader.host)
          metadata.set("leader-endpoint-port", String(leader.port))
          call.on("error", () => {})
          call.emit("error", Object.assign(new Error("Leader info available"), {
            code: grpc.status.NOT_FOUND,
            details: "Leader info available",
            metadata
          }))
        }
      })
      port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))
      )
      return { port, reads: () => reads, server }
    }),
    ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())))
  )

/** A stream with `n` events and a group on it from the start. */
const setup = (n: number) =>
  Effect.gen(function*() {
    const streams = yield* Streams.Streams
    const ps = yield* PersistentSubscriptions.PersistentSubscriptions
    const stream = uniqueStream("consume-reconnect")
    const group = uniqueStream("g")
    yield* streams.append(stream, newEvents(n), { currentVersion: "no_stream" })
    yield* ps.createToStream(stream, group, { from: "start" })
    return { stream, group }
  })

/** Runs `consume` on the group through a client of `connectionString`, collecting what it handles. */
const consumeVia = (connectionString: string, stream: string, group: string, into: Array<RecordedEvent>) =>
  withClient(
    connectionString,
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      return yield* ps.consumeToStream(stream, group, (event) => Effect.sync(() => into.push(event)))
    })
  )

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("consume reconnects", (it) => {
  it.effect("after NodeIsNotLeader: to the leader the follower names", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const { stream, group } = yield* setup(3)
      const follower = yield* followerScoped({ host: "127.0.0.1", port: node.port })
      const log = recoveryLog()
      const handled: Array<RecordedEvent> = []
      const fiber = yield* Effect.forkChild(
        log.capture(consumeVia(`esdb+discover://127.0.0.1:${follower.port}?tls=false`, stream, group, handled))
      )
      yield* eventually("the events handled on the leader", () => handled.length === 3)
      assert.deepStrictEqual(handled.map((e) => e.streamPosition), [0n, 1n, 2n])
      assert.isAtLeast(follower.reads(), 1)
      const reconnects = log.of("PersistentSubscriptions.readToStream", "reconnect")
      assert.isAtLeast(reconnects.length, 1)
      assert.strictEqual(reconnects[0]!.annotations["cause"], "NodeIsNotLeader")
      assert.strictEqual(reconnects[0]!.annotations["attempt"], 1)
      assert.match(reconnects[0]!.text, /reconnecting PersistentSubscriptions\.readToStream after NodeIsNotLeader/)
      // still running: a consumer never ends by itself
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("after DiscoveryFailed: once the seed can be reached", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const { stream, group } = yield* setup(2)
      const seed = yield* proxyScoped(node)
      yield* Effect.promise(() => seed.stop())
      const log = recoveryLog()
      const handled: Array<RecordedEvent> = []
      const fiber = yield* Effect.forkChild(log.capture(consumeVia(
        `esdb+discover://127.0.0.1:${seed.port}?tls=false&maxDiscoverAttempts=1&discoveryInterval=10`,
        stream,
        group,
        handled
      )))
      yield* eventually(
        "two reconnects after DiscoveryFailed",
        () => log.of("PersistentSubscriptions.readToStream", "reconnect").length >= 2
      )
      assert.deepStrictEqual(handled, [])
      yield* Effect.promise(() => seed.start())
      yield* eventually("the events handled once discovery works", () => handled.length === 2)
      const reconnects = log.of("PersistentSubscriptions.readToStream", "reconnect")
      assert.strictEqual(reconnects[0]!.annotations["cause"], "DiscoveryFailed")
      assert.deepStrictEqual(reconnects.slice(0, 2).map((w) => w.annotations["attempt"]), [1, 2])
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
    }))
})
