/**
 * What the Monitoring, Gossip and ServerFeatures services make of the node's answers: numbers
 * parsed only when they are numbers, member states by name and timestamps from .NET ticks, answers
 * cut to their limits, features matched without case.
 */
import { assert, describe, it } from "@effect/vitest"
import { parseValue } from "../src/domain/Stats.ts"
import { MemberInfo_VNodeState } from "../src/generated/gossip.ts"
import { toMembers } from "../src/internal/gossip/clusterInfo.ts"
import { toStats } from "../src/internal/monitoring/stats.ts"
import { toServerInfo, unreported } from "../src/internal/serverfeatures/getSupportedMethods.ts"

describe("node services' answers", () => {
  it("stats: numbers as numbers, anything else as its text, the raw text kept", () => {
    assert.deepStrictEqual(
      ["12", "-3", "1.5", "1.5e3", " 7 ", "abc", "", "NaN", "Infinity", "0x10", "1e999"].map(parseValue),
      [12, -3, 1.5, 1500, 7, "abc", "", "NaN", "Infinity", "0x10", "1e999"]
    )
    const sample = toStats({ stats: [{ key: "proc-mem", value: "1024" }, { key: "es-queue-x-name", value: "writer" }] })
    assert.deepStrictEqual(sample.raw, { "proc-mem": "1024", "es-queue-x-name": "writer" })
    assert.strictEqual(sample.number("proc-mem"), 1024)
    assert.strictEqual(sample.number("es-queue-x-name"), undefined)
  })

  it("gossip: states by name, timestamps from ticks since the epoch, at most 1,000 members", () => {
    const member = (state: MemberInfo_VNodeState) => ({
      instanceId: { value: { $case: "string" as const, value: "6f1c1d8e-0000-4000-8000-000000000001" } },
      timeStamp: 1_700_000_000_000n * 10_000n,
      state,
      isAlive: true,
      httpEndPoint: { address: "node1", port: 2113 }
    })
    const [follower, unknown] = toMembers({ members: [member(MemberInfo_VNodeState.Follower), member(MemberInfo_VNodeState.UNRECOGNIZED)] })
    assert.strictEqual(follower!.state, "Follower")
    assert.strictEqual(unknown!.state, "Unknown")
    assert.strictEqual(follower!.timestamp.getTime(), 1_700_000_000_000)
    assert.deepStrictEqual(follower!.address, { host: "node1", port: 2113 })
    assert.strictEqual(toMembers({ members: Array.from({ length: 5000 }, () => member(MemberInfo_VNodeState.Leader)) }).length, 1000)
  })

  it("server features: methods matched without case, the package optional; nothing known from a node that reports nothing", () => {
    const info = toServerInfo({
      eventStoreServerVersion: "24.10.0",
      methods: [{ serviceName: "event_store.client.streams.streams", methodName: "read", features: ["all", "position"] }]
    })
    assert.isTrue(info.supports("Streams", "Read"))
    assert.isTrue(info.supports("event_store.client.streams.Streams", "read", "ALL"))
    assert.isFalse(info.supports("streams", "read", "events"))
    assert.isFalse(info.supports("streams", "batchappend"))
    assert.isFalse(info.supports("ams", "read"))
    assert.isUndefined(unreported.supports("streams", "read"))
  })
})
