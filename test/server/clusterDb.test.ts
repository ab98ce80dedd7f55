/**
 * An embedded cluster with `db`: every member keeps its log in `<db>/node-<i>`; after every member
 * is killed, the cluster restarts on the same directories with every acknowledged write on every
 * member, and a new epoch.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import type { RunningNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { idsOf } from "./clusterHelpers.ts"
import { any, append, connect, uniqueStream } from "./helpers.ts"

describe("EmbeddedCluster with db", () => {
  it("every member killed, then the cluster restarted on its directories: every acknowledged write on every member", async () => {
    const db = mkdtempSync(join(tmpdir(), "cluster-db-"))
    try {
      const first = await startEmbeddedCluster({ nodes: 3, db, logger: () => {} })
      const acknowledged: Array<string> = []
      const epochBefore = first.store(first.leader()!)!.lastEvent("$epoch-information")!.data.toString()
      const c = connect(first.node(first.leader()!) as RunningNode)
      const stream = uniqueStream()
      for (let k = 0; k < 30; k++) {
        const id = randomUUID()
        const resp = await append(c.streams, stream, any, [{ id }])
        if (resp.result?.$case === "success") acknowledged.push(id)
      }
      c.close()
      for (const i of [0, 1, 2]) await first.kill(i)
      await first.close()
      const second = await startEmbeddedCluster({ nodes: 3, db, logger: () => {} })
      try {
        const leader = second.leader()!
        await eventuallyAsync("all follow", () => second.members().every((m) => m.state === "Leader" || m.state === "Follower"))
        for (const i of [0, 1, 2]) {
          await eventuallyAsync(`member ${i} reads as the leader`, () => idsOf(second, i).join() === idsOf(second, leader).join())
          const ids = idsOf(second, i)
          for (const id of acknowledged) assert.strictEqual(ids.filter((x) => x === id).length, 1)
        }
        assert.strictEqual(acknowledged.length, 30)
        const epoch = (text: string) => (JSON.parse(text) as { $e: number }).$e
        const epochAfter = second.store(leader)!.lastEvent("$epoch-information")!.data.toString()
        assert.isAbove(epoch(epochAfter), epoch(epochBefore))
      } finally {
        await second.close()
      }
    } finally {
      rmSync(db, { recursive: true, force: true })
    }
  })
})
