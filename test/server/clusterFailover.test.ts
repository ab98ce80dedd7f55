/**
 * Elections in the embedded cluster: a killed leader is replaced and every acknowledged write is
 * on the new leader exactly once; a member holding a tail no majority had cuts it when it returns,
 * catches up, and then reads as the leader does; a stopped member's port refuses connections.
 */
import * as grpc from "@grpc/grpc-js"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { connect as netConnect } from "node:net"
import { MemberInfo_VNodeState } from "../../src/generated/gossip.ts"
import { type RunningCluster, startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import type { RunningNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { idsOf } from "./clusterHelpers.ts"
import { any, append, type Clients, connect, gossipRead, uniqueStream } from "./helpers.ts"

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = netConnect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(false)
    })
    socket.once("error", () => resolve(true))
  })

describe("EmbeddedCluster failover", () => {
  let cluster: RunningCluster | undefined
  const opened: Array<Clients> = []
  const client = (node: RunningNode) => {
    const c = connect(node)
    opened.push(c)
    return c
  }
  afterEach(async () => {
    for (const c of opened.splice(0)) c.close()
    await cluster?.close()
  })

  it("a cluster of one member is Leader at once; killed, there is no leader; restarted, it leads again", async () => {
    cluster = await startEmbeddedCluster({ nodes: 1, logger: () => {} })
    assert.strictEqual(cluster.members()[0]!.state, "Leader")
    const c = client(cluster.node(0)!)
    const resp = await append(c.streams, uniqueStream(), any, [{}])
    assert.strictEqual(resp.result?.$case, "success")
    await cluster.kill(0)
    assert.isUndefined(cluster.leader())
    await cluster.restart(0)
    assert.strictEqual(cluster.leader(), 0)
    assert.strictEqual(cluster.members()[0]!.state, "Leader")
  })

  it("a leader that cannot reach a majority steps down after the no-quorum timeout; its waiting write is never acknowledged", async () => {
    cluster = await startEmbeddedCluster({ nodes: 3, noQuorumTimeoutMs: 300, logger: () => {} })
    const leader = cluster.leader()!
    const c = client(cluster.node(leader)!)
    const followers = [0, 1, 2].filter((i) => i !== leader)
    for (const i of followers) await cluster.stop(i)
    // still leader meanwhile: the write waits for a majority
    const pending = append(c.streams, uniqueStream(), any, [{}]).then(() => "acknowledged", (e: grpc.ServiceError) => `failed ${e.code}`)
    await eventuallyAsync("no leader", () => cluster!.leader() === undefined)
    assert.match(await pending, /^failed/)
    await eventuallyAsync("it steps down to Unknown", () => cluster!.members()[leader]!.state === "Unknown" && cluster!.node(leader) !== undefined)
    const refused = await append(client(cluster.node(leader)!).streams, uniqueStream(), any, [{}]).then(() => undefined, (e: grpc.ServiceError) => e)
    assert.strictEqual(refused?.details, "Server Is Not Ready")
    for (const i of followers) await cluster.restart(i)
    await eventuallyAsync("a leader again", () => cluster!.leader() !== undefined && cluster!.members()[cluster!.leader()!]!.state === "Leader")
  })

  it("a killed leader is replaced; every acknowledged write is on the new leader exactly once", async () => {
    const log: Array<string> = []
    cluster = await startEmbeddedCluster({ nodes: 3, logger: (m) => log.push(m) })
    const first = cluster.leader()!
    const c = client(cluster.node(first)!)
    const acknowledged: Array<string> = []
    let failed = 0
    const writer = async (w: number) => {
      for (let k = 0; k < 40; k++) {
        const id = randomUUID()
        try {
          const resp = await append(c.streams, `failover-${w}`, any, [{ id }])
          if (resp.result?.$case === "success") acknowledged.push(id)
        } catch {
          failed++
          return
        }
      }
    }
    const writers = Array.from({ length: 4 }, (_, w) => writer(w))
    await eventuallyAsync("some writes acknowledged", () => acknowledged.length >= 20)
    await cluster.kill(first)
    await Promise.all(writers)
    const second = cluster.leader()
    assert.isDefined(second)
    assert.notStrictEqual(second, first)
    assert.isTrue(await refused(cluster.members()[first]!.port), "the killed member's port refuses connections")
    await eventuallyAsync("the new leader is Leader", () => cluster!.members()[second!]!.state === "Leader")
    const ids = idsOf(cluster, second!)
    for (const id of acknowledged) assert.strictEqual(ids.filter((x) => x === id).length, 1, `acknowledged ${id} once`)
    assert.isAtLeast(acknowledged.length, 20)
    // gossip: the killed member is dead, the new leader leads
    const { response } = await gossipRead(client(cluster.node(second!)!))
    assert.strictEqual(response!.members[first]!.isAlive, false)
    assert.strictEqual(response!.members[second!]!.state, MemberInfo_VNodeState.Leader)
    // it comes back as a follower and catches up
    await cluster.restart(first)
    await eventuallyAsync("the returning member follows", () => cluster!.members()[first]!.state === "Follower")
    await eventuallyAsync("it reads as the leader does", () => idsOf(cluster!, first).join() === idsOf(cluster!, second!).join())
    assert.isAtLeast(failed, 0)
  })

  it("a member with a tail no majority had cuts it when it returns, catches up, and reads as the leader", async () => {
    const log: Array<string> = []
    cluster = await startEmbeddedCluster({ nodes: 3, logger: (m) => log.push(m) })
    const first = cluster.leader()!
    const c = client(cluster.node(first)!)
    const stream = uniqueStream()
    const committed = randomUUID()
    await append(c.streams, stream, any, [{ id: committed }])
    // the leader's links to its peers are slow: its next write stays on its own disk only
    cluster.delay(first, { peers: 60_000 })
    const lost = randomUUID()
    const pending = append(c.streams, stream, any, [{ id: lost }]).then(
      () => "acknowledged",
      (e: grpc.ServiceError) => `failed ${e.code}`
    )
    const before = cluster.store(first)!.headPosition
    await eventuallyAsync("the write is in the leader's log", () => cluster!.store(first)!.headPosition > before)
    await cluster.cut(first, { peers: true })
    assert.match(await pending, /^failed/)
    const second = cluster.leader()!
    assert.notStrictEqual(second, first)
    cluster.delay(first, { peers: 0 })
    await cluster.heal(first)
    assert.isTrue(log.some((m) => m.startsWith(`member ${first}: offline truncation`)), log.join("\n"))
    await eventuallyAsync("it follows", () => cluster!.members()[first]!.state === "Follower")
    await eventuallyAsync("it reads as the leader does", () => idsOf(cluster!, first).join() === idsOf(cluster!, second).join())
    for (const i of [0, 1, 2]) {
      const ids = idsOf(cluster, i)
      assert.strictEqual(ids.filter((x) => x === committed).length, 1)
      assert.strictEqual(ids.filter((x) => x === lost).length, 0)
    }
    // the cluster commits again at once (no link still waiting behind the old delay)
    await eventuallyAsync("the new leader is Leader", () => cluster!.members()[second]!.state === "Leader", { timeoutMs: 5_000 })
    const after = randomUUID()
    const resp = await append(client(cluster.node(second)!).streams, stream, any, [{ id: after }])
    assert.strictEqual(resp.result?.$case, "success")
    for (const i of [0, 1, 2]) await eventuallyAsync(`member ${i} reads it`, () => idsOf(cluster!, i).includes(after), { timeoutMs: 5_000 })
  })
})
