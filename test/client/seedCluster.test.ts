/**
 * The seed's connection-string examples (esdbclient 1.1 README, "Connection strings", "Examples"),
 * one test each, against an embedded three-member cluster, with credentials and TLS as the seed
 * writes them: the two single-address examples with `Tls=false` on an insecure cluster, the others
 * secure (admin:changeit over TLS, the development CA passed as the client's `rootCertificates`,
 * as the seed passes `root_certificates`). Where the seed writes ports 2111-2113 the members'
 * (free) ports stand in, and where it writes `cluster1.example.com` the cluster's DNS name is
 * `localhost` (resolved by the connection option `resolveHost`): the development certificate names
 * localhost, and a `+discover` seed is verified against the name it was resolved from.
 *
 * - `esdb://127.0.0.1:2113?Tls=false&NodePreference=follower` on a follower: what a follower
 *   serves succeeds (reads, subscriptions, appends, which it forwards); what needs the leader
 *   (persistent subscriptions, their consumers, a call given `requiresLeader`) raises
 *   NodeIsNotLeader, and the client stays on that follower.
 * - `esdb://127.0.0.1:2113?Tls=false&NodePreference=leader` on a follower: every method raises
 *   NodeIsNotLeader.
 * - `esdb://admin:changeit@localhost:2113`: secure, on the leader it all works; on a follower
 *   NodeIsNotLeader.
 * - `esdb://admin:changeit@localhost:2111,localhost:2112,localhost:2113?NodePreference=leader`:
 *   the leader, found by gossip; when it becomes a follower the client reconnects to the new leader.
 * - the same with `NodePreference=follower`: a follower; when that follower becomes the leader
 *   the client does not move to another follower.
 * - `esdb+discover://admin:changeit@cluster1.example.com?DefaultDeadline=5`: the leader, found
 *   through DNS; `DefaultDeadline` is accepted but counts milliseconds here (as the official Node
 *   client's), not the seed's seconds: a warning says so, and 5 ms bounds a slow call.
 * - `esdb+discover://admin:changeit@cluster1.example.com?KeepAliveInterval=10000&KeepAliveTimeout=10000`:
 *   accepted, on the channel as grpc-js's keepalive options.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { PersistentSubscriptions, Streams } from "../../src/index.ts"
import { parseConnectionString } from "../../src/internal/ConnectionString.ts"
import { channelOptions } from "../../src/internal/transport/ChannelConfig.ts"
import { type RunningCluster, startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { nodeStats } from "../../src/server/EmbeddedNode.ts"
import { recoveryLog } from "../support/recoveryLog.ts"
import { eventually, newEvents, uniqueStream, withClient } from "./_support.ts"

const quiet = () => {}

const withCluster = <A, E, R>(secure: boolean, f: (cluster: RunningCluster) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => startEmbeddedCluster({ nodes: 3, insecure: !secure, logger: quiet })),
    f,
    (cluster) => Effect.promise(() => cluster.close())
  )

/** The client options of a secure cluster: its CA, as the seed's `root_certificates`. */
const secureClient = (cluster: RunningCluster) => ({ rootCertificates: readFileSync(cluster.caFile!) })

const followerOf = (cluster: RunningCluster): number => [0, 1, 2].find((i) => i !== cluster.leader())!

const portOf = (cluster: RunningCluster, index: number): number => cluster.members()[index]!.port

/** The members serving an open read (the subscription the client opened). */
const readersOf = (cluster: RunningCluster) =>
  cluster.members().filter((m) => m.alive && nodeStats(cluster.node(m.index)!).activeReads > 0).map((m) => m.index)

/** Holds a subscription open while `f` runs, and resolves which member serves it. */
const subscribed = <A, E, R>(cluster: RunningCluster, f: (served: number) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const api = yield* Streams.Streams
    const fiber = yield* Effect.forkChild(Stream.runDrain(api.subscribeToStream(uniqueStream("held"))))
    const readers = yield* eventually("one member serves the subscription", Effect.sync(() => readersOf(cluster)), {
      until: (r) => r.length === 1
    })
    const result = yield* f(readers[0]!)
    yield* Fiber.interrupt(fiber)
    return result
  })

/** The warnings of the connection moving to another member. */
const moves = (log: ReturnType<typeof recoveryLog>) => log.of("connection", "reconnect")

describe("the seed's connection strings on an embedded cluster", () => {
  it.live("esdb://127.0.0.1:2113?Tls=false&NodePreference=follower on a follower: follower methods succeed, leader methods raise NodeIsNotLeader", () =>
    withCluster(false, (cluster) =>
      Effect.gen(function*() {
        const follower = followerOf(cluster)
        const leader = cluster.leader()!
        const log = recoveryLog()
        yield* withClient(
          `esdb://127.0.0.1:${portOf(cluster, follower)}?Tls=false&NodePreference=follower`,
          log.capture(subscribed(cluster, (served) =>
            Effect.gen(function*() {
              assert.strictEqual(served, follower)
              const streams = yield* Streams.Streams
              const stream = uniqueStream("follower")
              // a follower serves reads and forwards appends to its leader
              yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
              // (the follower makes the write readable once it hears the leader committed it)
              const events = yield* eventually("the follower reads the write", streams.get(stream).pipe(Effect.orElseSucceed(() => [])), {
                until: (e) => e.length === 2
              })
              assert.deepStrictEqual(events.map((e) => e.streamPosition), [0n, 1n])
              // persistent subscriptions need the leader
              const ps = yield* PersistentSubscriptions.PersistentSubscriptions
              const error = yield* Effect.flip(ps.createToStream(stream, uniqueStream("g"), { from: "start" }))
              assert.strictEqual(error._tag, "NodeIsNotLeader")
              if (error._tag === "NodeIsNotLeader") {
                assert.deepStrictEqual(error.leader, { host: "127.0.0.1", port: portOf(cluster, leader) })
              }
              // a consumer too: it ends with the error rather than reconnecting to its follower forever
              const consumer = yield* Effect.flip(
                ps.consumeToStream(stream, uniqueStream("g"), () => Effect.void).pipe(Effect.timeout("20 seconds"))
              )
              assert.strictEqual(consumer._tag, "NodeIsNotLeader")
              // so does an append that asks for it
              const required = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: "any", requiresLeader: true }))
              assert.strictEqual(required._tag, "NodeIsNotLeader")
              // and the client stays on its follower
              assert.deepStrictEqual(readersOf(cluster), [follower])
              assert.deepStrictEqual((yield* streams.get(stream)).length, 2)
            })))
        )
        assert.deepStrictEqual(moves(log), [])
      })))

  it.live("esdb://127.0.0.1:2113?Tls=false&NodePreference=leader on a follower: every method raises NodeIsNotLeader", () =>
    withCluster(false, (cluster) =>
      Effect.gen(function*() {
        const leader = { host: "127.0.0.1", port: portOf(cluster, cluster.leader()!) }
        const errors = yield* withClient(
          `esdb://127.0.0.1:${portOf(cluster, followerOf(cluster))}?Tls=false&NodePreference=leader`,
          Effect.gen(function*() {
            const streams = yield* Streams.Streams
            const ps = yield* PersistentSubscriptions.PersistentSubscriptions
            const stream = uniqueStream("leader-only")
            return [
              yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: "any" })),
              yield* Effect.flip(streams.get(stream)),
              yield* Effect.flip(Stream.runCollect(Stream.take(streams.subscribeToStream(stream), 1))),
              yield* Effect.flip(ps.createToStream(stream, uniqueStream("g"), { from: "start" }))
            ]
          })
        )
        for (const error of errors) {
          assert.strictEqual(error._tag, "NodeIsNotLeader")
          if (error._tag === "NodeIsNotLeader") assert.deepStrictEqual(error.leader, leader)
        }
      })))

  it.live("esdb://admin:changeit@localhost:2113 (secure): on the leader every method works; on a follower NodeIsNotLeader", () =>
    withCluster(true, (cluster) =>
      Effect.gen(function*() {
        const leader = cluster.leader()!
        const stream = uniqueStream("secure")
        yield* withClient(
          `esdb://admin:changeit@localhost:${portOf(cluster, leader)}`,
          Effect.gen(function*() {
            const streams = yield* Streams.Streams
            yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
            assert.strictEqual((yield* streams.get(stream)).length, 2)
            const ps = yield* PersistentSubscriptions.PersistentSubscriptions
            yield* ps.createToStream(stream, uniqueStream("g"), { from: "start" })
          }),
          secureClient(cluster)
        )
        const errors = yield* withClient(
          `esdb://admin:changeit@localhost:${portOf(cluster, followerOf(cluster))}`,
          Effect.flatMap(Streams.Streams, (streams) =>
            Effect.all([
              Effect.flip(streams.append(stream, newEvents(1), { currentVersion: "any" })),
              Effect.flip(streams.get(stream))
            ])),
          secureClient(cluster)
        )
        for (const error of errors) {
          assert.strictEqual(error._tag, "NodeIsNotLeader")
          if (error._tag === "NodeIsNotLeader") {
            assert.deepStrictEqual(error.leader, { host: "localhost", port: portOf(cluster, leader) })
          }
        }
      })))

  it.live("esdb://admin:changeit@localhost:2111,localhost:2112,localhost:2113?NodePreference=leader: the leader; when it becomes a follower, the new leader", () =>
    withCluster(true, (cluster) =>
      Effect.gen(function*() {
        const first = cluster.leader()!
        const seeds = cluster.members().map((m) => `localhost:${m.port}`).join(",")
        const log = recoveryLog()
        const stream = uniqueStream("leader-pref")
        yield* withClient(
          `esdb://admin:changeit@${seeds}?NodePreference=leader`,
          log.capture(Effect.gen(function*() {
            const streams = yield* Streams.Streams
            yield* subscribed(cluster, (served) => Effect.sync(() => assert.strictEqual(served, first)))
            yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
            // the leader steps down: another member is elected, the old one follows it
            const second = yield* Effect.promise(() => cluster.electLeader())
            assert.isDefined(second)
            assert.notStrictEqual(second, first)
            yield* streams.append(stream, newEvents(1), { currentVersion: 0n })
            yield* subscribed(cluster, (served) => Effect.sync(() => assert.strictEqual(served, second)))
            const moved = moves(log)
            assert.isAtLeast(moved.length, 1)
            assert.strictEqual(moved.at(-1)!.annotations["endpoint"], `localhost:${portOf(cluster, second!)}`)
          })),
          secureClient(cluster)
        )
      })))

  it.live("esdb://admin:changeit@localhost:2111,localhost:2112,localhost:2113?NodePreference=follower: a follower; when it becomes the leader the client stays", () =>
    withCluster(true, (cluster) =>
      Effect.gen(function*() {
        const seeds = cluster.members().map((m) => `localhost:${m.port}`).join(",")
        const log = recoveryLog()
        const stream = uniqueStream("follower-pref")
        yield* withClient(
          `esdb://admin:changeit@${seeds}?NodePreference=follower`,
          log.capture(subscribed(cluster, (chosen) =>
            Effect.gen(function*() {
              assert.strictEqual(cluster.members()[chosen]!.state, "Follower")
              const streams = yield* Streams.Streams
              const ps = yield* PersistentSubscriptions.PersistentSubscriptions
              // an append the follower forwards to the leader over the client's BatchAppend call
              // (the call stays the follower's when that leader steps down)
              yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
              assert.strictEqual(yield* streams.getCurrentVersion(stream), 0n)
              const error = yield* Effect.flip(ps.createToStream(stream, uniqueStream("g"), { from: "start" }))
              assert.strictEqual(error._tag, "NodeIsNotLeader")
              // that follower is elected leader (in place: its clients keep their connections)
              cluster.setPriority(chosen, 100)
              const elected = yield* Effect.promise(() => cluster.electLeader())
              assert.strictEqual(elected, chosen)
              // the client stays on it, now the leader: leader methods work there
              yield* streams.append(stream, newEvents(2), { currentVersion: 0n })
              yield* ps.createToStream(stream, uniqueStream("g"), { from: "start" })
              assert.deepStrictEqual(readersOf(cluster), [chosen])
            }))),
          secureClient(cluster)
        )
        assert.deepStrictEqual(moves(log), [])
      })))

  it.live("esdb+discover://admin:changeit@cluster1.example.com?DefaultDeadline=5: the leader through DNS; DefaultDeadline counts milliseconds (warned), and bounds a slow write", () =>
    withCluster(true, (cluster) =>
      Effect.gen(function*() {
        const leader = cluster.leader()!
        const resolveHost = (host: string) => Effect.succeed(host === "localhost" ? ["127.0.0.1"] : [])
        const name = `localhost:${portOf(cluster, 0)}`
        // the seed's 5 seconds, as this client counts them
        yield* withClient(
          `esdb+discover://admin:changeit@${name}?DefaultDeadline=5000`,
          subscribed(cluster, (served) =>
            Effect.gen(function*() {
              assert.strictEqual(served, leader)
              const streams = yield* Streams.Streams
              yield* streams.append(uniqueStream("deadline"), newEvents(1), { currentVersion: "no_stream" })
            })),
          { ...secureClient(cluster), resolveHost }
        )
        // the seed's string as written: accepted, with a warning; 5 ms bound a write the leader holds for 1 s
        const log = recoveryLog()
        const error = yield* log.capture(withClient(
          `esdb+discover://admin:changeit@${name}?DefaultDeadline=5`,
          Effect.gen(function*() {
            const streams = yield* Streams.Streams
            yield* streams.getCurrentVersion(uniqueStream("warm"), { timeout: 30_000 })
            cluster.delay(leader, { clients: 1000 })
            return yield* Effect.flip(streams.append(uniqueStream("deadline"), newEvents(1), { currentVersion: "no_stream" }))
          }),
          { ...secureClient(cluster), resolveHost }
        ))
        cluster.delay(leader, { clients: 0 })
        assert.strictEqual(error._tag, "DeadlineExceeded")
        assert.isTrue(log.warnings.some((w) => /DefaultDeadline/.test(w.text) && /millisecond/.test(w.text)), JSON.stringify(log.warnings))
      })))

  it.live("esdb+discover://admin:changeit@cluster1.example.com?KeepAliveInterval=10000&KeepAliveTimeout=10000: accepted, on the channel", () =>
    withCluster(true, (cluster) =>
      Effect.gen(function*() {
        const connectionString = `esdb+discover://admin:changeit@localhost:${portOf(cluster, 0)}?KeepAliveInterval=10000&KeepAliveTimeout=10000`
        const parsed = parseConnectionString(connectionString)
        assert.isTrue(Result.isSuccess(parsed))
        if (Result.isSuccess(parsed)) {
          assert.deepStrictEqual(parsed.success.warnings, [])
          const options = channelOptions(parsed.success)
          assert.strictEqual(options["grpc.keepalive_time_ms"], 10_000)
          assert.strictEqual(options["grpc.keepalive_timeout_ms"], 10_000)
        }
        const stream = uniqueStream("keepalive")
        const events = yield* withClient(
          connectionString,
          Effect.gen(function*() {
            const streams = yield* Streams.Streams
            yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
            return yield* streams.get(stream)
          }),
          { ...secureClient(cluster), resolveHost: (host) => Effect.succeed(host === "localhost" ? ["127.0.0.1"] : []) }
        )
        assert.strictEqual(events.length, 1)
      })))
})
