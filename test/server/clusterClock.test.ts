/**
 * The embedded cluster's link delays run on the Clock of the layer's services: under a TestClock a
 * write whose acknowledgements are delayed is acknowledged once the clock has moved, whatever the
 * wall clock did meanwhile.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TestClock } from "effect/testing"
import { EmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import type { RunningNode } from "../../src/server/EmbeddedNode.ts"
import { any, append, connect, uniqueStream } from "./helpers.ts"

describe("EmbeddedCluster on a TestClock", () => {
  it.effect("a write whose replication is delayed 10 s each way is acknowledged once the TestClock has moved 20 s", () =>
    Effect.gen(function*() {
      const cluster = yield* EmbeddedCluster
      const leader = cluster.leader()!
      for (const i of [0, 1, 2]) if (i !== leader) cluster.delay(i, { peers: 10_000 })
      const c = connect(cluster.node(leader) as RunningNode)
      yield* Effect.addFinalizer(() => Effect.sync(() => c.close()))
      let acknowledged = false
      const pending = append(c.streams, uniqueStream(), any, [{}]).then((r) => {
        acknowledged = r.result?.$case === "success"
      })
      // real time passes: the acknowledgements wait for the TestClock
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 200)))
      assert.isFalse(acknowledged)
      // the commit reaches the followers after 10 s, their acknowledgements the leader 10 s later
      let moved = 0
      while (!acknowledged && moved < 100) {
        yield* TestClock.adjust("10 seconds")
        moved++
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      }
      yield* Effect.promise(() => pending)
      assert.isTrue(acknowledged)
      assert.isAtLeast(moved, 2)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedCluster.layer({ nodes: 3, logger: () => {} }))))
})
