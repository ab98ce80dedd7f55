/**
 * The embedded cluster's controls and the Operations service on a cluster: ResignNode and
 * SetNodePriority act on the elections; a leader is PreLeader (writes not ready) until a majority
 * holds its epoch; a member cut from its clients drops their connections; delayed client links.
 */
import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { MemberInfo_VNodeState } from "../../src/generated/gossip.ts"
import { OperationsClient } from "../../src/generated/operations.ts"
import { type RunningCluster, startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import type { RunningNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import {
  any,
  append,
  appendOk,
  connect,
  gossipRead,
  readAll,
  readOptions,
  streamOption,
  subscribe,
  unary,
  uniqueStream
} from "./helpers.ts"

const operations = (cluster: RunningCluster, i: number) => {
  const node = cluster.node(i)!
  return new OperationsClient(`${node.host}:${node.port}`, grpc.credentials.createInsecure())
}

describe("EmbeddedCluster controls", () => {
  let cluster: RunningCluster
  beforeAll(async () => {
    cluster = await startEmbeddedCluster({ nodes: 3, logger: () => {} })
  })
  afterAll(() => cluster.close())

  it("Operations.ResignNode on the leader: another member is elected", async () => {
    const first = cluster.leader()!
    const ops = operations(cluster, first)
    try {
      const { error } = await unary((r, m, cb) => ops.resignNode(r, m, cb), {})
      assert.isUndefined(error)
    } finally {
      ops.close()
    }
    await eventuallyAsync("another leader", () => cluster.leader() !== undefined && cluster.leader() !== first)
  })

  it("Operations.SetNodePriority: the member with the highest priority wins the next election among equals", async () => {
    await eventuallyAsync("all follow", () => cluster.members().every((m) => m.state === "Leader" || m.state === "Follower"))
    const target = [0, 1, 2].find((i) => i !== cluster.leader())!
    const ops = operations(cluster, target)
    try {
      const { error } = await unary((r, m, cb) => ops.setNodePriority(r, m, cb), { priority: 10 })
      assert.isUndefined(error)
    } finally {
      ops.close()
    }
    assert.strictEqual(cluster.members()[target]!.priority, 10)
    assert.strictEqual(await cluster.electLeader(), target)
  })

  it("a follower elected leader becomes it in place: a subscription open on it goes on, and it takes writes", async () => {
    await eventuallyAsync("all follow", () => cluster.members().every((m) => m.state === "Leader" || m.state === "Follower"))
    const target = [0, 1, 2].find((i) => i !== cluster.leader())!
    cluster.setPriority(target, 100)
    const stream = uniqueStream()
    const c = connect(cluster.node(target) as RunningNode)
    try {
      const sub = subscribe(c.streams, {
        options: readOptions({ streamOption: streamOption(stream), countOption: { $case: "subscription", value: {} } })
      })
      await sub.waitFor((ms) => ms.some((m) => m.content?.$case === "confirmation"))
      assert.strictEqual(await cluster.electLeader(), target)
      await eventuallyAsync("Leader", () => cluster.members()[target]!.state === "Leader")
      await appendOk(c.streams, stream, any, [{}])
      await sub.waitFor((ms) => ms.some((m) => m.content?.$case === "event"))
      assert.isUndefined(sub.error)
      assert.isFalse(sub.ended)
      sub.call.cancel()
    } finally {
      cluster.setPriority(target, 0)
      c.close()
    }
  })

  it("a new leader is PreLeader, refusing writes as not ready, until a majority holds its epoch; then Leader", async () => {
    for (const i of [0, 1, 2]) cluster.delay(i, { peers: 2000 })
    const leader = (await cluster.electLeader())!
    const c = connect(cluster.node(leader) as RunningNode)
    try {
      assert.strictEqual(cluster.members()[leader]!.state, "PreLeader")
      const { response } = await gossipRead(c)
      assert.strictEqual(response!.members[leader]!.state, MemberInfo_VNodeState.PreLeader)
      const refused = await append(c.streams, uniqueStream(), any, [{}]).then(() => undefined, (e: grpc.ServiceError) => e)
      assert.strictEqual(refused?.code, grpc.status.UNAVAILABLE)
      assert.strictEqual(refused?.details, "Server Is Not Ready")
      await eventuallyAsync("Leader", () => cluster.members()[leader]!.state === "Leader")
      for (const i of [0, 1, 2]) cluster.delay(i, { peers: 0 })
      await appendOk(c.streams, uniqueStream(), any, [{}])
    } finally {
      for (const i of [0, 1, 2]) cluster.delay(i, { peers: 0 })
      c.close()
    }
  })

  it("Operations.Shutdown on the leader: it stops (gossip: dead, Shutdown), another is elected; restarted, it follows", async () => {
    const first = cluster.leader()!
    const ops = operations(cluster, first)
    try {
      const { error } = await unary((r, m, cb) => ops.shutdown(r, m, cb), {})
      assert.isUndefined(error)
    } finally {
      ops.close()
    }
    await eventuallyAsync("another leader", () => cluster.leader() !== undefined && cluster.leader() !== first)
    const c = connect(cluster.node(cluster.leader()!) as RunningNode)
    try {
      const member = (await gossipRead(c)).response!.members[first]!
      assert.strictEqual(member.isAlive, false)
      assert.strictEqual(member.state, MemberInfo_VNodeState.Shutdown)
    } finally {
      c.close()
    }
    await cluster.restart(first)
    assert.strictEqual(cluster.members()[first]!.state, "Follower")
  })

  it("a member cut from its clients drops their connections until healed; a client delay holds each call", async () => {
    const i = [0, 1, 2].find((k) => k !== cluster.leader())!
    const stream = uniqueStream()
    const c = connect(cluster.node(i) as RunningNode)
    try {
      await appendOk(c.streams, stream, any, [{}])
      await cluster.cut(i, { clients: true })
      const read = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
      assert.strictEqual(read.error?.code, grpc.status.UNAVAILABLE)
      await cluster.heal(i)
      await eventuallyAsync("served again", async () => (await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })).error === undefined)
      cluster.delay(i, { clients: 300 })
      const started = performance.now()
      await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
      assert.isAtLeast(performance.now() - started, 290)
      cluster.delay(i, { clients: 0 })
    } finally {
      c.close()
    }
  })
})
