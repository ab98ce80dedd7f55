/**
 * A node that is not the leader answers NOT_FOUND "Leader info available" with the leader's
 * endpoint in its trailers (PROTOCOL.md §3). On a connection that discovers its node by gossip
 * with NodePreference=leader (here the follower's stale gossip names itself the leader) the client
 * then reconnects to that leader and retries the call under its retry schedule: appends (over
 * BatchAppend and over Append), deletes and reads all end up on the leader. Without retries the
 * typed NodeIsNotLeader reaches the caller, with the leader's endpoint. On a single node address
 * (the seed: "if this node is not the leader, all methods raise NodeIsNotLeader") the caller gets
 * NodeIsNotLeader at once, nothing retried, and the connection stays on that node.
 */
import * as grpc from "@grpc/grpc-js"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { GossipService, MemberInfo_VNodeState } from "../../src/generated/gossip.ts"
import { StreamsService } from "../../src/generated/streams.ts"
import { EmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { Streams } from "../../src/index.ts"
import { recoveryLog } from "../support/recoveryLog.ts"
import { newEvents, nodeLayer, uniqueStream, withClient } from "./_support.ts"

/**
 * A "follower" that refuses every Streams call and names the leader; its gossip (stale, as a
 * deposed leader's may be) lists itself as the Leader, so discovery picks it.
 */
const startFollower = async (leader: { readonly host: string; readonly port: number }) => {
  const calls: Array<string> = []
  const notLeader = (): grpc.ServiceError => {
    const metadata = new grpc.Metadata()
    metadata.set("exception", "not-leader")
    metadata.set("leader-endpoint-host", leader.host)
    metadata.set("leader-endpoint-port", String(leader.port))
    return Object.assign(new Error("Leader info available"), {
      code: grpc.status.NOT_FOUND,
      details: "Leader info available",
      metadata
    })
  }
  const refuseUnary = (name: string) => (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
    calls.push(name)
    callback(notLeader())
  }
  const server = new grpc.Server()
  let port = 0
  server.addService(GossipService as unknown as grpc.ServiceDefinition, {
    read: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, {
        members: [{
          timeStamp: 0n,
          state: MemberInfo_VNodeState.Leader,
          isAlive: true,
          httpEndPoint: { address: "127.0.0.1", port }
        }]
      })
  })
  server.addService(StreamsService as unknown as grpc.ServiceDefinition, {
    read: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      calls.push("read")
      call.emit("error", notLeader())
    },
    append: (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      calls.push("append")
      call.on("data", () => {})
      call.on("end", () => callback(notLeader()))
    },
    batchAppend: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      calls.push("batchAppend")
      call.on("data", () => call.emit("error", notLeader()))
      call.on("error", () => {})
    },
    delete: refuseUnary("delete"),
    tombstone: refuseUnary("tombstone")
  })
  port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))
  )
  return { port, calls, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) }
}

const follower = (node: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(Effect.promise(() => startFollower(node)), (f) => Effect.promise(() => f.stop()))

const quickRetries = { retrySchedule: Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 3 })) }

/** The follower as the one gossip seed of a discovering connection (NodePreference=leader, the default). */
const seeds = (f: { readonly port: number }) => `esdb+discover://127.0.0.1:${f.port}?tls=false`

layer(nodeLayer(), { excludeTestServices: true, timeout: "30 seconds" })("leader redirection", (it) => {
  it.effect("discovering with NodePreference=leader: appends, deletes and reads sent to a follower end up on the leader", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const f = yield* follower(node)
      const stream = uniqueStream("redirected")
      const result = yield* withClient(
        seeds(f),
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          const position = yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
          const events = yield* streams.get(stream)
          yield* streams.delete(stream, { currentVersion: 1n })
          return { position, revisions: events.map((e) => e.streamPosition) }
        }),
        quickRetries
      )
      assert.isTrue(result.position > 0n)
      assert.deepStrictEqual(result.revisions, [0n, 1n])
      assert.deepStrictEqual(f.calls, ["batchAppend"], "only the first call reached the follower")
      // the leader really holds the write (and the delete)
      const onLeader = yield* withClient(
        node.connectionString,
        Effect.flip(Effect.flatMap(Streams.Streams, (streams) => streams.get(stream)))
      )
      assert.strictEqual(onLeader._tag, "NotFound")
    }))

  it.effect("the Append path (per-call credentials) is redirected too", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const f = yield* follower(node)
      const stream = uniqueStream("redirected-append")
      const credentials = { username: "admin", password: Redacted.make("changeit") }
      const position = yield* withClient(
        seeds(f),
        Effect.flatMap(Streams.Streams, (streams) => streams.append(stream, newEvents(1), { currentVersion: "any", credentials })),
        quickRetries
      )
      assert.isTrue(position > 0n)
      assert.deepStrictEqual(f.calls, ["append"])
    }))

  it.effect("subscriptions started on a follower go on from the leader (a leader change is resumed, logged)", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const f = yield* follower(node)
      const stream = uniqueStream("redirected-sub")
      yield* withClient(node.connectionString, Effect.flatMap(Streams.Streams, (streams) =>
        streams.append(stream, newEvents(3), { currentVersion: "no_stream" })))
      const log = recoveryLog()
      const [fromStream, fromAll] = yield* withClient(
        seeds(f),
        log.capture(Effect.flatMap(Streams.Streams, (streams) =>
          Effect.all([
            streams.subscribeToStream(stream).pipe(Stream.take(3), Stream.runCollect),
            streams.subscribeToAll({ filterInclude: stream, filterByStreamName: true }).pipe(
              Stream.filter((item) => item._tag === "RecordedEvent"),
              Stream.take(3),
              Stream.runCollect
            )
          ], { concurrency: 2 })))
      )
      assert.deepStrictEqual(Array.from(fromStream, (e) => e.streamPosition), [0n, 1n, 2n])
      assert.deepStrictEqual(Array.from(fromAll, (e) => e._tag === "RecordedEvent" ? e.streamPosition : -1n), [0n, 1n, 2n])
      assert.isAtLeast(f.calls.filter((c) => c === "read").length, 1)
      const resumes = [...log.of("Streams.subscribeToStream", "resume"), ...log.of("Streams.subscribeToAll", "resume")]
      assert.isAtLeast(resumes.length, 1)
      for (const w of resumes) assert.strictEqual(w.annotations["cause"], "NodeIsNotLeader")
    }))

  it.effect("without retries the caller gets NodeIsNotLeader with the leader's endpoint", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const f = yield* follower(node)
      const error = yield* withClient(
        seeds(f),
        Effect.flip(Effect.flatMap(Streams.Streams, (streams) => streams.delete(uniqueStream("x"), { currentVersion: "any" }))),
        { retrySchedule: Schedule.recurs(0) }
      )
      assert.strictEqual(error._tag, "NodeIsNotLeader")
      if (error._tag === "NodeIsNotLeader") assert.deepStrictEqual(error.leader, { host: node.host, port: node.port })
    }))

  it.effect("a single node address (NodePreference=leader): NodeIsNotLeader at once, not retried, and the connection stays on that node", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const f = yield* follower(node)
      const log = recoveryLog()
      const [first, second] = yield* withClient(
        `esdb://127.0.0.1:${f.port}?tls=false&nodePreference=leader`,
        log.capture(Effect.flatMap(Streams.Streams, (streams) =>
          Effect.all([
            Effect.flip(streams.delete(uniqueStream("single"), { currentVersion: "any" })),
            Effect.flip(streams.get(uniqueStream("single")))
          ]))),
        quickRetries
      )
      for (const error of [first, second]) {
        assert.strictEqual(error._tag, "NodeIsNotLeader")
        if (error._tag === "NodeIsNotLeader") assert.deepStrictEqual(error.leader, { host: node.host, port: node.port })
      }
      // each call reached the follower once: no retry, no move to the leader
      assert.deepStrictEqual(f.calls, ["delete", "read"])
      assert.deepStrictEqual(log.of("Streams.delete", "retry"), [])
    }))
})
