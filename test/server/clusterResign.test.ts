/**
 * Resignation and the elections' order, as a real node's `ElectionsService` and
 * `ClusterVNodeController`: a resigning leader refuses new writes as not ready, lets its waiting
 * writes commit, then the others elect (it loses to any member as complete as it); the leader of
 * the best candidate's epoch leads again when it answers and is not resigning.
 */
import * as grpc from "@grpc/grpc-js"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { bestCandidate } from "../../src/server/cluster/Election.ts"
import { type RunningCluster, startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { any, append, type Clients, connect, uniqueStream } from "./helpers.ts"

const candidate = (index: number, extra: Partial<Parameters<typeof bestCandidate>[0][number]> = {}) => ({
  index,
  epoch: 3,
  end: 1000,
  priority: 0,
  resigning: false,
  ...extra
})

describe("elections", () => {
  it("order: epoch, log end, not resigning, priority, lowest index; then the best one's epoch leader when it answered", () => {
    assert.strictEqual(bestCandidate([candidate(0), candidate(1), candidate(2)], 3)?.index, 0)
    assert.strictEqual(bestCandidate([candidate(0, { end: 900 }), candidate(1), candidate(2)], 3)?.index, 1)
    assert.strictEqual(bestCandidate([candidate(0, { resigning: true }), candidate(1), candidate(2)], 3)?.index, 1)
    // the resigning leader still wins when it alone has the longest log (log end ranks first)
    assert.strictEqual(bestCandidate([candidate(0, { resigning: true, end: 1100 }), candidate(1), candidate(2)], 3)?.index, 0)
    assert.strictEqual(bestCandidate([candidate(0), candidate(1, { priority: 5 }), candidate(2)], 3)?.index, 1)
    // member 2 wrote epoch 3: it leads again, even with a lower priority, unless it resigns
    const led = (extra: Partial<ReturnType<typeof candidate>> = {}) => [
      candidate(0, { epochLeader: 2, priority: 5 }),
      candidate(1, { epochLeader: 2 }),
      candidate(2, { epochLeader: 2, ...extra })
    ]
    assert.strictEqual(bestCandidate(led(), 3)?.index, 2)
    assert.strictEqual(bestCandidate(led({ resigning: true }), 3)?.index, 0)
    // ... and only when it answered with that epoch
    assert.strictEqual(bestCandidate(led().slice(0, 2), 3)?.index, 0)
    assert.isUndefined(bestCandidate([candidate(0)], 3))
  })
})

describe("EmbeddedCluster: a leader that resigns", () => {
  let cluster: RunningCluster | undefined
  const opened: Array<Clients> = []
  afterEach(async () => {
    for (const c of opened.splice(0)) c.close()
    await cluster?.close()
  })

  it("is ResigningLeader, refusing new writes as not ready, until its waiting write is committed; then another member leads", async () => {
    cluster = await startEmbeddedCluster({ nodes: 3, logger: () => {} })
    const old = cluster.leader()!
    const c = connect(cluster.node(old)!)
    opened.push(c)
    // the followers' acknowledgements are slow: the write waits for the majority
    for (const i of [0, 1, 2]) if (i !== old) cluster.delay(i, { peers: 300 })
    const waiting = append(c.streams, uniqueStream(), any, [{}]).then(() => "acknowledged", (e: grpc.ServiceError) => `failed ${e.details}`)
    await new Promise((r) => setTimeout(r, 50))
    const elected = cluster.electLeader()
    await eventuallyAsync("ResigningLeader", () => cluster!.members()[old]!.state === "ResigningLeader")
    const refused = await append(c.streams, uniqueStream(), any, [{}]).then(() => undefined, (e: grpc.ServiceError) => e)
    assert.strictEqual(refused?.code, grpc.status.UNAVAILABLE)
    assert.strictEqual(refused?.details, "Server Is Not Ready")
    assert.strictEqual(await waiting, "acknowledged")
    const next = await elected
    assert.isDefined(next)
    assert.notStrictEqual(next, old)
  })

  it("on an idle cluster, electLeader moves the leadership every time", async () => {
    cluster = await startEmbeddedCluster({ nodes: 3, logger: () => {} })
    let leader = cluster.leader()!
    for (let k = 0; k < 3; k++) {
      const next = (await cluster.electLeader())!
      assert.notStrictEqual(next, leader)
      leader = next
      await eventuallyAsync("Leader", () => cluster!.members()[leader]!.state === "Leader")
    }
  })
})
