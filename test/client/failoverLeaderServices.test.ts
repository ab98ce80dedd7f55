/**
 * Persistent-subscription groups and projections run on the cluster's leader only and move with it:
 * their configuration and checkpoints are in the log, so the new leader reads them back. A
 * `consume` consumer and a projection go on after the leader is killed.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { NewEvent, PersistentSubscriptions, Projections, Streams } from "../../src/index.ts"
import { EmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { recoveryLog } from "../support/recoveryLog.ts"
import { eventually, newEvents, uniqueStream } from "./_support.ts"

const clusterWithClient = EmbeddedCluster.layerClient({
  nodes: 3,
  logger: () => {},
  // discovery outlasts an election on a loaded machine (the promoted member restarts)
  settings: "maxDiscoverAttempts=100&discoveryInterval=50",
  client: { retrySchedule: Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 200 })) }
}).pipe(Layer.orDie)

/** Brings back the members an earlier test killed, then kills the leader. */
const killLeader = Effect.gen(function*() {
  const cluster = yield* EmbeddedCluster
  for (const m of cluster.members()) if (!m.alive) yield* Effect.promise(() => cluster.restart(m.index))
  const first = cluster.leader()!
  yield* Effect.promise(() => cluster.kill(first))
  const next = cluster.leader()
  assert.isDefined(next)
  assert.notStrictEqual(next, first)
  return first
})

layer(clusterWithClient, { excludeTestServices: true, timeout: "60 seconds" })("leader services across a failover", (it) => {
  it.effect("a consume consumer goes on after the leader is killed: every event handled, on the group the new leader read back", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const cluster = yield* EmbeddedCluster
      const stream = uniqueStream("ps-failover")
      const group = "g"
      yield* streams.append(stream, newEvents(20), { currentVersion: "no_stream" })
      yield* ps.createToStream(stream, group, { from: "start", settings: { minCheckpointCount: 1, maxCheckpointCount: 1, checkpointAfter: 0 } })
      const handled = new Map<bigint, number>()
      const log = recoveryLog()
      const fiber = yield* Effect.forkChild(log.capture(ps.consumeToStream(stream, group, (event) =>
        Effect.sync(() => {
          handled.set(event.streamPosition, (handled.get(event.streamPosition) ?? 0) + 1)
        }))))
      yield* eventually("the first 20 handled", () => handled.size === 20)
      // the group's checkpoint is in the log (written on the one-second tick)
      const checkpoint = `$persistentsubscription-${stream}::${group}-checkpoint`
      yield* eventually("a checkpoint on a majority", () =>
        [0, 1, 2].filter((i) => (cluster.store(i)?.lastEventNumber(checkpoint) ?? -1) >= 0).length >= 2)
      yield* killLeader
      const info = yield* ps.getInfoToStream(stream, group).pipe(Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 100 }))))
      assert.strictEqual(info.groupName, group)
      yield* streams.append(stream, newEvents(20), { currentVersion: 19n })
      yield* eventually("all 40 handled", () => handled.size === 40, { timeoutMs: 25_000 })
      yield* Fiber.interrupt(fiber)
      assert.isAtLeast(log.warnings.length, 1, "the reconnect is logged")
    }))

  it.effect("a projection goes on on the new leader", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const streams = yield* Streams.Streams
      const cat = uniqueStream("pcat").replace(/-/g, "")
      const name = `count-${cat}`
      const counted = (n: number) => Array.from({ length: n }, (_, i) => new NewEvent({ type: "Counted", data: JSON.stringify({ i }) }))
      yield* streams.append(`${cat}-1`, counted(3), { currentVersion: "any" })
      yield* projections.create(name, `fromCategory('${cat}')
        .when({ $init: function() { return { count: 0 } }, Counted: function(s, e) { s.count++; return s } })
        .outputState()`)
      yield* projections.awaitIdle(name)
      assert.deepStrictEqual(yield* projections.getState(name), { count: 3 })
      yield* killLeader
      yield* streams.append(`${cat}-2`, counted(2), { currentVersion: "any" })
      yield* eventually("the new leader's projection counts 5", projections.getState(name).pipe(
        Effect.map((s) => (s as { count?: number }).count === 5),
        Effect.orElseSucceed(() => false)
      ))
    }))
})
