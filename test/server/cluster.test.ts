/**
 * The embedded cluster (src/server/cluster): replication to a majority, gossip states, followers'
 * and read-only replicas' answers to writes (PROTOCOL.md §3).
 */
import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { MemberInfo_VNodeState } from "../../src/generated/gossip.ts"
import { PersistentSubscriptionsClient } from "../../src/generated/persistent.ts"
import { type RunningCluster, startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import type { RunningNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { idsOf } from "./clusterHelpers.ts"
import {
  any,
  append,
  appendOk,
  type Clients,
  connect,
  events,
  gossipRead,
  readAll,
  readOptions,
  streamOption,
  unary,
  uniqueStream
} from "./helpers.ts"

const quiet = () => {}


const requiresLeader = () => {
  const m = new grpc.Metadata()
  m.set("requires-leader", "true")
  return m
}

const readStream = async (c: Clients, stream: string, metadata?: grpc.Metadata) => {
  const { error, messages } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) }, metadata)
  return { error, events: events(messages) }
}

const failure = async (p: Promise<unknown>): Promise<grpc.ServiceError> => {
  try {
    await p
  } catch (e) {
    return e as grpc.ServiceError
  }
  throw new Error("expected a failure")
}

describe("EmbeddedCluster", () => {
  let cluster: RunningCluster
  const clients: Array<Clients> = []
  const client = (i: number) => (clients[i] ??= connect(cluster.node(i) as RunningNode))
  const follower = () => cluster.members().find((m) => m.state === "Follower")!.index
  beforeAll(async () => {
    cluster = await startEmbeddedCluster({ nodes: 3, readOnlyReplicas: 1, logger: quiet })
  })
  afterAll(async () => {
    for (const c of clients) c?.close()
    await cluster.close()
  })

  it("elects one leader; gossip reports each member's state, alive flag and endpoint", async () => {
    await eventuallyAsync("Leader, 2 Followers, ReadOnlyReplica", () =>
      cluster.members().map((m) => m.state).sort().join() === "Follower,Follower,Leader,ReadOnlyReplica")
    const leader = cluster.leader()!
    for (const i of [0, 1, 2, 3]) {
      const { response } = await gossipRead(client(i))
      const members = response!.members
      assert.deepStrictEqual(members.map((m) => m.isAlive), [true, true, true, true])
      assert.deepStrictEqual(members.map((m) => m.httpEndPoint?.port), cluster.members().map((m) => m.port))
      assert.strictEqual(members[leader]!.state, MemberInfo_VNodeState.Leader)
      assert.strictEqual(members[3]!.state, MemberInfo_VNodeState.ReadOnlyReplica)
      assert.strictEqual(members.filter((m) => m.state === MemberInfo_VNodeState.Follower).length, 2)
    }
  })

  it("HTTP /gossip and /info report the cluster as gRPC gossip does", async () => {
    const leader = cluster.leader()!
    const node = cluster.node(3)!
    const gossip = (await (await fetch(`http://${node.host}:${node.port}/gossip`)).json()) as {
      members: Array<{ state: string; isAlive: boolean; httpEndPointPort: number; isReadOnlyReplica: boolean }>
    }
    assert.deepStrictEqual(gossip.members.map((m) => m.httpEndPointPort), cluster.members().map((m) => m.port))
    assert.strictEqual(gossip.members[leader]!.state, "Leader")
    assert.deepStrictEqual(gossip.members.map((m) => m.isReadOnlyReplica), [false, false, false, true])
    const info = (await (await fetch(`http://${node.host}:${node.port}/info`)).json()) as { state: string }
    assert.strictEqual(info.state, "readonlyreplica")
  })

  it("acknowledges a write held by a majority; every member then reads it, in the same log order", async () => {
    const leader = cluster.leader()!
    const stream = uniqueStream()
    await appendOk(client(leader).streams, stream, any, [{ data: { n: 1 } }, { data: { n: 2 } }])
    // a majority has it readable at once: the leader and at least one follower
    const holding = [0, 1, 2].filter((i) => cluster.store(i)!.lastEventNumber(stream) === 1)
    assert.isAtLeast(holding.length, 2)
    for (const i of [0, 1, 2, 3]) {
      await eventuallyAsync(`member ${i} reads the stream`, async () => (await readStream(client(i), stream)).events.length === 2)
    }
    const ids = idsOf(cluster, leader)
    for (const i of [0, 1, 2, 3]) await eventuallyAsync(`member ${i}'s $all`, () => idsOf(cluster, i).join() === ids.join())
  })

  it("a follower forwards a write to the leader, or answers not-leader with the leader's endpoint when requires-leader is set", async () => {
    const f = follower()
    const leaderPort = cluster.members()[cluster.leader()!]!.port
    const stream = uniqueStream()
    await appendOk(client(f).streams, stream, any, [{ data: { forwarded: true } }])
    assert.strictEqual(cluster.store(cluster.leader()!)!.lastEventNumber(stream), 0)
    const refused = await failure(append(client(f).streams, stream, any, [{}], requiresLeader()))
    assert.strictEqual(refused.code, grpc.status.NOT_FOUND)
    assert.strictEqual(refused.details, "Leader info available")
    assert.strictEqual(refused.metadata.get("exception")[0], "not-leader")
    assert.strictEqual(refused.metadata.get("leader-endpoint-host")[0], "127.0.0.1")
    assert.strictEqual(refused.metadata.get("leader-endpoint-port")[0], String(leaderPort))
    // reads are served by the follower, unless requires-leader
    await eventuallyAsync("the follower reads it", async () => (await readStream(client(f), stream)).events.length === 1)
    const read = await readStream(client(f), stream, requiresLeader())
    assert.strictEqual(read.error?.code, grpc.status.NOT_FOUND)
    assert.strictEqual(read.error?.metadata.get("exception")[0], "not-leader")
  })

  it("persistent-subscription operations on a follower answer not-leader, whatever the header", async () => {
    const f = follower()
    const node = cluster.node(f)!
    const ps = new PersistentSubscriptionsClient(`${node.host}:${node.port}`, grpc.credentials.createInsecure())
    try {
      const { error } = await unary((r, m, cb) => ps.create(r, m, cb), {
        options: {
          streamOption: { $case: "stream", value: { streamIdentifier: { streamName: Buffer.from(uniqueStream()) }, revisionOption: { $case: "start", value: {} } } },
          groupName: "g",
          settings: undefined
        }
      } as never)
      assert.strictEqual(error?.code, grpc.status.NOT_FOUND)
      assert.strictEqual(error?.metadata.get("exception")[0], "not-leader")
      const list = await unary((r, m, cb) => ps.list(r, m, cb), { options: { listOption: { $case: "listAllSubscriptions", value: {} } } } as never)
      assert.strictEqual(list.error?.code, grpc.status.UNAVAILABLE)
      assert.strictEqual(list.error?.details, "Server Is Not Ready")
    } finally {
      ps.close()
    }
  })

  it("a read-only replica refuses writes with not-leader and the leader's endpoint, with or without requires-leader", async () => {
    const leaderPort = cluster.members()[cluster.leader()!]!.port
    for (const metadata of [new grpc.Metadata(), requiresLeader()]) {
      const refused = await failure(append(client(3).streams, uniqueStream(), any, [{}], metadata))
      assert.strictEqual(refused.code, grpc.status.NOT_FOUND)
      assert.strictEqual(refused.metadata.get("exception")[0], "not-leader")
      assert.strictEqual(refused.metadata.get("leader-endpoint-port")[0], String(leaderPort))
    }
  })
})
