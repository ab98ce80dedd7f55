/**
 * The client against a real embedded cluster (src/server/cluster: replication, elections):
 * NodePreference picks the right member through the gossip seeds, appends fail over to the new
 * leader when the leader is killed (each acknowledged append once on the new leader), and a `$all`
 * catch-up subscription goes on across an election with no gap and no duplicate.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Streams } from "../../src/index.ts"
import { type RunningCluster, startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { nodeStats } from "../../src/server/EmbeddedNode.ts"
import { recoveryLog } from "../support/recoveryLog.ts"
import { eventually, newEvents, uniqueStream, withClient } from "./_support.ts"

const quiet = () => {}

const withCluster = <A, E, R>(
  options: { readonly readOnlyReplicas?: number },
  f: (cluster: RunningCluster) => Effect.Effect<A, E, R>
) =>
  Effect.acquireUseRelease(
    Effect.promise(() => startEmbeddedCluster({ nodes: 3, logger: quiet, ...options })),
    f,
    (cluster) => Effect.promise(() => cluster.close())
  )

/** The members holding an open read (the subscription the client opened). */
const readersOf = (cluster: RunningCluster) =>
  cluster.members().filter((m) => m.alive && nodeStats(cluster.node(m.index)!).activeReads > 0).map((m) => m.index)

describe("client failover on an embedded cluster", () => {
  it.live("NodePreference leader, follower and readonlyreplica connect to a member of that kind", () =>
    withCluster({ readOnlyReplicas: 1 }, (cluster) =>
      Effect.forEach(["leader", "follower", "readonlyreplica"] as const, (preference) =>
        withClient(
          `${cluster.connectionString}&nodePreference=${preference}`,
          Effect.gen(function*() {
            const api = yield* Streams.Streams
            // (no write first: a read-only replica answers it not-leader, and the client then follows the leader)
            const stream = uniqueStream(preference)
            const fiber = yield* Effect.forkChild(Stream.runDrain(api.subscribeToStream(stream)))
            const readers = yield* eventually("one member serves the subscription", Effect.sync(() => readersOf(cluster)), {
              until: (r) => r.length === 1
            })
            const state = cluster.members()[readers[0]!]!.state
            assert.strictEqual(state, preference === "leader" ? "Leader" : preference === "follower" ? "Follower" : "ReadOnlyReplica")
            yield* Fiber.interrupt(fiber)
            yield* eventually("the read closed", Effect.sync(() => readersOf(cluster).length === 0))
          })
        ), { discard: true })))

  it.live("NodePreference follower with both followers stopped: FollowerNotFound, no fallback to the leader; back, it connects", () =>
    withCluster({}, (cluster) =>
      Effect.gen(function*() {
        const leader = cluster.leader()!
        const followers = [0, 1, 2].filter((i) => i !== leader)
        for (const i of followers) yield* Effect.promise(() => cluster.stop(i))
        const error = yield* Effect.flip(withClient(
          `${cluster.connectionString}&nodePreference=follower&maxDiscoverAttempts=2&discoveryInterval=10`,
          Effect.flatMap(Streams.Streams, (api) => api.append(uniqueStream("nf"), newEvents(1), { currentVersion: "any" })),
          { retrySchedule: Schedule.recurs(0) }
        ))
        assert.strictEqual(error._tag, "FollowerNotFound")
        for (const i of followers) yield* Effect.promise(() => cluster.restart(i))
        yield* withClient(
          `${cluster.connectionString}&nodePreference=follower`,
          Effect.flatMap(Streams.Streams, (api) => api.append(uniqueStream("nf"), newEvents(1), { currentVersion: "any" }))
        )
      })))

  it.live("the leader is killed during appends from 16 fibers: they fail over; each acknowledged append is on the new leader once", () =>
    withCluster({}, (cluster) =>
      Effect.gen(function*() {
        const first = cluster.leader()!
        const streams = Array.from({ length: 16 }, (_, i) => uniqueStream(`kill${i}`))
        let acked = 0
        const log = recoveryLog()
        const kill = Effect.promise(() => cluster.kill(first))
        const appended = yield* withClient(
          `${cluster.connectionString}&discoveryInterval=50&maxDiscoverAttempts=100`,
          log.capture(Effect.flatMap(Streams.Streams, (api) =>
            Effect.forEach(streams, (stream) =>
              Effect.forEach(Array.from({ length: 8 }, (_, k) => k), (k) => {
                const event = newEvents(1, `E${k}`)[0]!
                return api.append(stream, event, { currentVersion: "any" }).pipe(
                  Effect.andThen(Effect.suspend(() => ++acked === 40 ? kill : Effect.void)),
                  Effect.as(event.id)
                )
              }), { concurrency: "unbounded" }))),
          { retrySchedule: Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 100 })) }
        )
        const second = cluster.leader()!
        assert.notStrictEqual(second, first)
        assert.strictEqual(acked, 16 * 8, "every append acknowledged")
        const store = cluster.store(second)!
        const count = new Map<string, number>()
        for (let i = 0; i < store.log.length; i++) {
          const id = store.log.record(i).eventId
          count.set(id, (count.get(id) ?? 0) + 1)
        }
        for (const id of appended.flat()) assert.strictEqual(count.get(id), 1, `append ${id} once on the new leader`)
        assert.isAtLeast(log.of("connection", "reconnect").length, 1, "the move to the new leader is logged")
      })))

  it.live("a $all catch-up subscription goes on across an election: no gap, no duplicate", () =>
    withCluster({}, (cluster) =>
      Effect.gen(function*() {
        const stream = uniqueStream("across")
        const log = recoveryLog()
        const received: Array<string> = []
        yield* withClient(
          `${cluster.connectionString}&nodePreference=leader&discoveryInterval=50&maxDiscoverAttempts=100`,
          log.capture(Effect.gen(function*() {
            const api = yield* Streams.Streams
            yield* api.append(stream, newEvents(20), { currentVersion: "no_stream" })
            const fiber = yield* Effect.forkChild(
              api.subscribeToAll({ resumeSchedule: Schedule.spaced("20 millis") }).pipe(
                Stream.filter((item) => item._tag === "RecordedEvent" && item.streamName === stream),
                Stream.runForEach((item) => Effect.sync(() => received.push(item._tag === "RecordedEvent" ? item.id : ""))),
              )
            )
            yield* eventually("the first 20", Effect.sync(() => received.length >= 20))
            const first = cluster.leader()!
            yield* Effect.promise(() => cluster.kill(first))
            yield* api.append(stream, newEvents(20), { currentVersion: 19n })
            yield* eventually("all 40", Effect.sync(() => received.length >= 40))
            yield* Fiber.interrupt(fiber)
          })),
          { retrySchedule: Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 100 })) }
        )
        const leader = cluster.store(cluster.leader()!)!
        const expected = leader.events(stream).map((e) => e.eventId)
        assert.strictEqual(expected.length, 40)
        assert.deepStrictEqual(received, expected, "delivered = the log: no gap, no duplicate")
        assert.isAtLeast(log.of("Streams.subscribeToAll", "resume").length, 1, "the resume is logged")
      })))
})
