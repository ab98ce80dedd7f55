import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { startEmbeddedNode, type RunningNode } from "../../src/server/EmbeddedNode.ts"
import { append, appendOk, type Clients, connect, events, eventTypeOf, readAll, readOptions, streamOption, supportedMethods, gossipRead, uniqueStream } from "./helpers.ts"

describe("embedded node basics", () => {
  let node: RunningNode
  let c: Clients
  beforeAll(async () => {
    node = await startEmbeddedNode()
    c = connect(node)
  })
  afterAll(async () => {
    c.close()
    await node.stop()
  })

  it("reports its connection string", () => {
    assert.strictEqual(node.connectionString, `esdb://127.0.0.1:${node.port}?tls=false`)
    assert.isAbove(node.port, 0)
  })

  it("appends and reads back a stream", async () => {
    const stream = uniqueStream()
    const first = await appendOk(c.streams, stream, { $case: "noStream", value: {} }, [{ type: "A", data: { a: 1 } }, { type: "B", data: { b: 2 } }])
    assert.deepStrictEqual(first.currentRevisionOption, { $case: "currentRevision", value: 1n })
    assert.strictEqual(first.positionOption?.$case, "position")
    const pos = first.positionOption?.$case === "position" ? first.positionOption.value : undefined
    assert.isDefined(pos)
    assert.isAbove(Number(pos!.commitPosition), 0)
    assert.strictEqual(pos!.commitPosition, pos!.preparePosition)

    const { messages, error } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
    assert.isUndefined(error)
    const evs = events(messages)
    assert.strictEqual(evs.length, 2)
    assert.deepStrictEqual(evs.map((e) => eventTypeOf(e.event)), ["A", "B"])
    assert.deepStrictEqual(evs.map((e) => e.event?.streamRevision), [0n, 1n])
    const e1 = evs[1]!.event!
    assert.strictEqual(e1.streamIdentifier?.streamName.toString(), stream)
    assert.deepStrictEqual(JSON.parse(e1.data.toString()), { b: 2 })
    assert.deepStrictEqual(e1.metadata.map((m) => m.key), ["type", "created", "content-type"])
    assert.strictEqual(e1.metadata[2]!.value, "application/json")
    const created = BigInt(e1.metadata[1]!.value)
    const nowTicks = BigInt(Date.now()) * 10000n
    assert.isTrue(created <= nowTicks && created > nowTicks - 600_000_000n)
    assert.strictEqual(e1.commitPosition, pos!.commitPosition)
    assert.deepStrictEqual(evs[1]!.position, { $case: "commitPosition", value: pos!.commitPosition })
    assert.strictEqual(e1.id?.value?.$case, "string")
  })

  it("answers wrong expected version in-band", async () => {
    const stream = uniqueStream()
    await appendOk(c.streams, stream, { $case: "any", value: {} }, [{}])
    const resp = await append(c.streams, stream, { $case: "noStream", value: {} }, [{}])
    assert.strictEqual(resp.result?.$case, "wrongExpectedVersion")
  })

  it("lists supported methods with lowercased names, including batchappend", async () => {
    const { response } = await supportedMethods(c)
    assert.isDefined(response)
    const streams = response!.methods.filter((m) => m.serviceName === "event_store.client.streams.streams")
    assert.sameMembers(streams.map((m) => m.methodName), ["read", "append", "delete", "tombstone", "batchappend"])
    assert.deepStrictEqual(streams.find((m) => m.methodName === "read")!.features, ["position", "events"])
    assert.deepStrictEqual(streams.find((m) => m.methodName === "batchappend")!.features, ["deadline_duration"])
    assert.isTrue(response!.methods.some((m) => m.serviceName === "event_store.client.gossip.gossip" && m.methodName === "read"))
    assert.match(response!.eventStoreServerVersion, /^\d+\.\d+\.\d+$/)
  })

  it("gossips one alive leader at its own endpoint", async () => {
    const { response } = await gossipRead(c)
    assert.strictEqual(response!.members.length, 1)
    const member = response!.members[0]!
    assert.strictEqual(member.state, 8)
    assert.isTrue(member.isAlive)
    assert.deepStrictEqual(member.httpEndPoint, { address: "127.0.0.1", port: node.port })
    assert.strictEqual(member.instanceId?.value?.$case, "structured")
  })
})
