/**
 * What a follower's forwarded BatchAppend call and a leader's waiting writes answer when the leader
 * goes, as a real node does: the client's call on the follower stays open and each write the
 * leader never answered times out on its own (`Timeout`, after the forwarding timeout); a leader
 * that steps down answers its waiting writes as timed out ("Request canceled by server").
 */
import * as grpc from "@grpc/grpc-js"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import type { BatchAppendReq, BatchAppendResp } from "../../src/generated/streams.ts"
import { type RunningCluster, startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import type { RunningNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { any, append, batchSession, type Clients, connect, proposed, uniqueStream } from "./helpers.ts"

const request = (stream: string, correlation: string, type: string): BatchAppendReq => ({
  correlationId: { value: { $case: "string", value: correlation } },
  options: {
    streamIdentifier: { streamName: Buffer.from(stream) },
    expectedStreamPosition: { $case: "any", value: {} },
    deadlineOption: { $case: "deadline21100", value: new Date(Date.now() + 60_000) }
  },
  proposedMessages: [proposed({ type })],
  isFinal: true
})

const correlationOf = (r: BatchAppendResp) => r.correlationId?.value?.$case === "string" ? r.correlationId.value.value : undefined

describe("EmbeddedCluster: writes in flight when the leader goes", () => {
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

  for (const how of ["election", "kill"] as const) {
    it(`a follower's forwarded BatchAppend call stays open across a failover (${how}); the write in flight times out alone`, async () => {
      cluster = await startEmbeddedCluster({ nodes: 3, forwardTimeoutMs: 200, logger: () => {} })
      const f = cluster.members().find((m) => m.state === "Follower")!.index
      const session = batchSession(client(cluster.node(f)!).streams)
      const stream = uniqueStream("fwd")
      const a = randomUUID()
      session.send(request(stream, a, "A"))
      const [first] = await session.next()
      assert.strictEqual(correlationOf(first!), a)
      assert.strictEqual(first!.result?.$case, "success")
      // the next write is on its way to the leader (the follower's link to it is slow) when the
      // leader steps down: no leader answers it
      cluster.delay(f, { peers: 500 })
      const b = randomUUID()
      session.send(request(stream, b, "B"))
      await new Promise((r) => setTimeout(r, 50))
      const old = cluster.leader()!
      if (how === "kill") await cluster.kill(old)
      else await cluster.electLeader()
      const [second] = await session.next()
      assert.strictEqual(correlationOf(second!), b)
      assert.strictEqual(second!.result?.$case, "error")
      assert.strictEqual(second!.result?.$case === "error" ? second!.result.value.message : "", "Timeout")
      cluster.delay(f, { peers: 0 })
      await eventuallyAsync("a new leader", () => {
        const l = cluster!.leader()
        return l !== undefined && l !== old && cluster!.members()[l]!.state === "Leader"
      })
      // the same call: the next write goes to the new leader
      const c = randomUUID()
      session.send(request(stream, c, "C"))
      const [third] = await session.next()
      assert.strictEqual(correlationOf(third!), c)
      assert.strictEqual(third!.result?.$case, "success")
      const { error } = await session.end()
      assert.isUndefined(error)
      const leader = cluster.leader()!
      assert.deepStrictEqual(cluster.store(leader)!.events(stream).map((e) => e.eventType), ["A", "C"])
    })
  }

  it("a leader stepping down answers its waiting writes timed out: Append ABORTED, BatchAppend a Timeout per write", async () => {
    cluster = await startEmbeddedCluster({ nodes: 3, noQuorumTimeoutMs: 300, logger: () => {} })
    const leader = cluster.leader()!
    const c = client(cluster.node(leader)!)
    const session = batchSession(c.streams)
    for (const i of [0, 1, 2].filter((i) => i !== leader)) await cluster.stop(i)
    const pending = append(c.streams, uniqueStream(), any, [{}]).then(() => undefined, (e: grpc.ServiceError) => e)
    const b = randomUUID()
    session.send(request(uniqueStream("wait"), b, "B"))
    const [answer] = await session.next()
    assert.strictEqual(correlationOf(answer!), b)
    assert.strictEqual(answer!.result?.$case === "error" ? answer!.result.value.message : "", "Timeout")
    const failure = await pending
    assert.strictEqual(failure?.code, grpc.status.ABORTED)
    assert.strictEqual(failure?.details, "Operation timed out: Request canceled by server")
  })
})

describe("EmbeddedCluster: a new leader's tail from the previous term", () => {
  let cluster: RunningCluster | undefined
  afterEach(async () => {
    await cluster?.close()
  })

  it("is readable on the new leader only once a majority holds it (with its epoch)", async () => {
    cluster = await startEmbeddedCluster({ nodes: 3, logger: () => {} })
    const old = cluster.leader()!
    const [f, g] = [0, 1, 2].filter((i) => i !== old) as [number, number]
    const c = connect(cluster.node(old)!)
    try {
      await cluster.stop(g)
      // f holds the write durably, but its acknowledgement is slow: the write is not committed
      cluster.delay(f, { peers: 3000 })
      const head = cluster.store(f)!.headPosition
      const stream = uniqueStream("tail")
      const pending = append(c.streams, stream, any, [{ type: "T" }]).then(() => "acknowledged", () => "failed")
      // (its writer's head moves when it writes the leader's commit)
      await eventuallyAsync("f holds the tail", () => cluster!.store(f)!.headPosition > head)
      assert.strictEqual(cluster.store(f)!.events(stream).length, 0, "not readable on f before the commit")
      await cluster.kill(old)
      assert.strictEqual(await pending, "failed", "never acknowledged: no majority had it")
      cluster.delay(f, { peers: 0 })
      cluster.delay(g, { peers: 1000 })
      await cluster.restart(g)
      assert.strictEqual(cluster.leader(), f)
      // its epoch and the tail are not on a majority until g's acknowledgement arrives
      assert.strictEqual(cluster.store(f)!.events(stream).length, 0, "the tail is not readable before it is committed")
      await eventuallyAsync("committed with the new epoch", () => cluster!.store(f)!.events(stream).length === 1)
    } finally {
      c.close()
    }
  })
})
