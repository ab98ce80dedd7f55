/**
 * The official client (`@kurrent/kurrentdb-client`, the judge of how the node behaves) against the
 * embedded cluster: it connects through the gossip seeds, appends (to the leader, and through a
 * follower that forwards), and appends again after the leader is killed, once it has found the new
 * leader, directly and through a follower; disposing it then does not hang on a forwarded call.
 */
import { assert, describe, it } from "@effect/vitest"
import { jsonEvent, KurrentDBClient } from "@kurrent/kurrentdb-client"
import { startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { uniqueStream } from "../support/unique.ts"

describe("the official client on an embedded cluster", () => {
  it("connects with gossip seeds, appends, and appends again after a failover", async () => {
    const cluster = await startEmbeddedCluster({ nodes: 3, logger: () => {} })
    const leaderClient = KurrentDBClient.connectionString(`${cluster.connectionString}&nodePreference=leader&discoveryInterval=10&maxDiscoverAttempts=100`)
    const followerClient = KurrentDBClient.connectionString(`${cluster.connectionString}&nodePreference=follower`)
    try {
      const stream = uniqueStream("official")
      const first = await leaderClient.appendToStream(stream, jsonEvent({ type: "A", data: { n: 1 } }))
      assert.isTrue(first.success)
      // a follower forwards the write to the leader (requires-leader is false with this preference)
      await followerClient.appendToStream(stream, jsonEvent({ type: "B", data: { n: 2 } }))
      const leader = cluster.leader()!
      assert.strictEqual(cluster.store(leader)!.lastEventNumber(stream), 1)
      await cluster.kill(leader)
      const next = cluster.leader()!
      assert.notStrictEqual(next, leader)
      // the official client does not retry: the call that finds the old leader gone fails, and it
      // rediscovers; a later append reaches the new leader
      let failures = 0
      await eventuallyAsync("an append after the failover", async () => {
        try {
          await leaderClient.appendToStream(stream, jsonEvent({ type: "C", data: { n: 3 } }), { streamState: 1n })
          return true
        } catch {
          failures++
          return false
        }
      })
      assert.isAtMost(failures, 10)
      // the follower client's BatchAppend call, forwarded to the killed leader, was ended (not
      // left open: the official client's dispose waits for its calls to finish); it appends again
      await eventuallyAsync("a forwarded append after the failover", async () => {
        try {
          await followerClient.appendToStream(stream, jsonEvent({ type: "D", data: { n: 4 } }), { streamState: 2n })
          return true
        } catch {
          return false
        }
      })
      await followerClient.dispose()
      const events = cluster.store(next)!.events(stream).map((e) => e.eventType)
      assert.deepStrictEqual(events, ["A", "B", "C", "D"])
    } finally {
      await leaderClient.dispose()
      await followerClient.dispose()
      await cluster.close()
    }
  })
})
