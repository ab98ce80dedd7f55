/**
 * The client Operations, Monitoring, Gossip and ServerFeatures services against a secure embedded
 * node: a scavenge started, found running, stopped (ScavengeNotFound for any other id), logged in
 * `$scavenges-<id>`; the admin calls; AccessDenied for a user who is neither admin nor operator;
 * stats parsed; the cluster's one member; the node's version and methods; shutdown stopping the
 * node.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import {
  ClusterMember,
  type Credentials,
  Gossip,
  Monitoring,
  Operations,
  ServerFeatures,
  ServerInfo,
  Stats,
  Streams,
  Users
} from "../../src/index.ts"
import { clientLayer, EmbeddedNode, nodeLayer, nodeWithClient, uniqueStream } from "./_support.ts"

const as = (username: string, password: string): { readonly credentials: Credentials } => ({
  credentials: { username, password: Redacted.make(password) }
})

describe("node services", () => {
  // scavenges take a minute on the node's clock unless stopped
  layer(nodeWithClient({ insecure: false, scavengeDelayMs: 60_000 }), { excludeTestServices: true, timeout: "60 seconds" })("secure node", (it) => {
    it.effect("a scavenge: started, the running one answered again, ScavengeNotFound for another id, stopped, logged", () =>
      Effect.gen(function*() {
        const operations = yield* Operations.Operations
        const started = yield* operations.startScavenge({ threads: 2, startFromChunk: 0 })
        assert.strictEqual(started.result, "Started")
        assert.match(started.scavengeId, /^[0-9a-f-]{36}$/)
        const again = yield* operations.startScavenge()
        assert.deepStrictEqual(again, { scavengeId: started.scavengeId, result: "InProgress" })

        const other = yield* Effect.flip(operations.stopScavenge("not-the-one"))
        assert.strictEqual(other._tag, "ScavengeNotFound")
        if (other._tag === "ScavengeNotFound") {
          assert.strictEqual(other.scavengeId, "not-the-one")
          assert.strictEqual(other.running, started.scavengeId)
        }
        const stopped = yield* operations.stopScavenge(started.scavengeId)
        assert.deepStrictEqual(stopped, { scavengeId: started.scavengeId, result: "Stopped" })
        const none = yield* Effect.flip(operations.stopScavenge("current"))
        assert.strictEqual(none._tag, "ScavengeNotFound")
        assert.strictEqual(none._tag === "ScavengeNotFound" && none.running, undefined)

        const streams = yield* Streams.Streams
        const log = yield* streams.get(`$scavenges-${started.scavengeId}`)
        assert.deepStrictEqual(log.map((e) => e.type), ["$scavengeStarted", "$scavengeCompleted"])
        assert.strictEqual((JSON.parse(log[1]!.dataText) as { result: string }).result, "Stopped")
      }))

    it.effect("the admin calls answer; a user neither admin nor operator is AccessDenied; bad input is InvalidArgument", () =>
      Effect.gen(function*() {
        const operations = yield* Operations.Operations
        yield* operations.mergeIndexes()
        yield* operations.resignNode()
        yield* operations.setNodePriority(5)
        yield* operations.restartPersistentSubscriptions()
        // ops may too
        yield* operations.mergeIndexes(as("ops", "changeit"))

        const users = yield* Users.Users
        const login = uniqueStream("plain").replace(/-/g, "")
        yield* users.create({ loginName: login, password: "pw" })
        const denied = yield* Effect.all([
          Effect.flip(operations.startScavenge(as(login, "pw"))),
          Effect.flip(operations.stopScavenge("current", as(login, "pw"))),
          Effect.flip(operations.shutdown(as(login, "pw"))),
          Effect.flip(operations.mergeIndexes(as(login, "pw"))),
          Effect.flip(operations.resignNode(as(login, "pw"))),
          Effect.flip(operations.setNodePriority(1, as(login, "pw"))),
          Effect.flip(operations.restartPersistentSubscriptions(as(login, "pw")))
        ])
        assert.deepStrictEqual(denied.map((e) => e._tag), Array(7).fill("AccessDenied"))

        const invalid = yield* Effect.all([
          Effect.flip(operations.startScavenge({ threads: 0 })),
          Effect.flip(operations.startScavenge({ startFromChunk: -1 })),
          Effect.flip(operations.stopScavenge("")),
          Effect.flip(operations.setNodePriority(1.5))
        ])
        assert.deepStrictEqual(invalid.map((e) => e._tag), Array(4).fill("InvalidArgument"))
      }))

    it.effect("stats: samples with numbers as numbers and the raw text kept", () =>
      Effect.gen(function*() {
        const monitoring = yield* Monitoring.Monitoring
        const samples = Array.from(yield* monitoring.stats("50 millis").pipe(Stream.take(2), Stream.runCollect))
        assert.strictEqual(samples.length, 2)
        for (const sample of samples) {
          assert.instanceOf(sample, Stats)
          const mem = sample.number("proc-mem")
          assert.isDefined(mem)
          assert.isAbove(mem!, 0)
          assert.strictEqual(sample.raw["proc-mem"], String(mem))
          assert.strictEqual(typeof sample.values["sys-totalMem"], "number")
          assert.strictEqual(sample.number("no-such-key"), undefined)
        }
        const refused = yield* Effect.flip(Stream.runDrain(monitoring.stats("0 millis")))
        assert.strictEqual(refused._tag, "InvalidArgument")
      }))

    it.effect("gossip: the node lists itself, the leader, alive, at its address", () =>
      Effect.gen(function*() {
        const node = yield* EmbeddedNode
        const members = yield* (yield* Gossip.Gossip).clusterInfo()
        assert.strictEqual(members.length, 1)
        const member = members[0]!
        assert.instanceOf(member, ClusterMember)
        assert.strictEqual(member.state, "Leader")
        assert.isTrue(member.isAlive)
        assert.strictEqual(member.address.port, node.port)
        assert.match(member.instanceId, /^[0-9a-f-]{36}$/)
        assert.isBelow(Math.abs(member.timestamp.getTime() - Date.now()), 5 * 60_000)
      }))

    it.effect("server features: the version and the methods served", () =>
      Effect.gen(function*() {
        const info = yield* (yield* ServerFeatures.ServerFeatures).get()
        assert.instanceOf(info, ServerInfo)
        assert.isTrue(info.reported)
        assert.notStrictEqual(info.version, "")
        assert.isTrue(info.supports("streams", "batchappend"))
        assert.isTrue(info.supports("event_store.client.users.Users", "Create"))
        assert.isFalse(info.supports("streams", "no-such-method"))
      }))
  })

  layer(nodeLayer({ insecure: true }), { excludeTestServices: true, timeout: "30 seconds" })("shutdown", (it) => {
    it.effect("Operations.shutdown answers, then the node stops", () =>
      Effect.gen(function*() {
        const node = yield* EmbeddedNode
        yield* Effect.flatMap(Operations.Operations, (operations) => operations.shutdown()).pipe(
          Effect.provide(clientLayer().pipe(Layer.provide(Layer.succeed(EmbeddedNode, node))))
        )
        yield* Effect.promise(() => node.stopped)
      }))
  })
})
