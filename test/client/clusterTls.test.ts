/**
 * A secure embedded cluster (`EmbeddedCluster.layerClient({ insecure: false })`): every member
 * serves TLS with the development certificate and authenticates its callers; the client reaches
 * it through its connection string (`admin:changeit`, the CA file, every member a seed). A write a
 * follower forwards is authorized by the leader with the caller's credentials: a wrong password is
 * refused there as on the leader, and nothing is written. The leader killed, the client goes on
 * over TLS with the new one. With certificates of the caller's own (`tls`), the connection string
 * names no CA file and `layerClient` hands the client their CA.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { Streams } from "../../src/index.ts"
import { EmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { devCaCert, devNodeCert, devNodeKey } from "../../src/server/DevCerts.ts"
import { eventually, newEvents, uniqueStream, withClient } from "./_support.ts"

const secureCluster = EmbeddedCluster.layerClient({
  nodes: 3,
  insecure: false,
  logger: () => {},
  settings: "maxDiscoverAttempts=100&discoveryInterval=50",
  client: { retrySchedule: Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 200 })) }
}).pipe(Layer.orDie)

layer(secureCluster, { excludeTestServices: true, timeout: "60 seconds" })("a TLS cluster", (it) => {
  it.effect("its connection string: admin over TLS, the CA file, every member (localhost) a seed", () =>
    Effect.gen(function*() {
      const cluster = yield* EmbeddedCluster
      assert.isFalse(cluster.insecure)
      const seeds = cluster.members().map((m) => `localhost:${m.port}`).join(",")
      assert.strictEqual(cluster.connectionString, `esdb://admin:changeit@${seeds}?tls=true&tlsCaFile=${cluster.caFile}`)
      const streams = yield* Streams.Streams
      const stream = uniqueStream("tls")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      assert.strictEqual((yield* streams.get(stream)).length, 2)
    }))

  it.effect("a follower forwards a write with the caller's credentials: a wrong password is refused, nothing written; the right one writes", () =>
    Effect.gen(function*() {
      const cluster = yield* EmbeddedCluster
      const stream = uniqueStream("tls-forward")
      const viaFollower = `${cluster.connectionString}&nodePreference=follower`
      const wrong = { username: "admin", password: Redacted.make("wrong") }
      const refused = yield* withClient(
        viaFollower,
        Effect.flip(Effect.flatMap(Streams.Streams, (streams) =>
          streams.append(stream, newEvents(1), { currentVersion: "no_stream", credentials: wrong })))
      )
      assert.strictEqual(refused._tag, "Unauthenticated")
      const version = yield* withClient(
        viaFollower,
        Effect.flatMap(Streams.Streams, (streams) =>
          Effect.andThen(
            streams.append(stream, newEvents(1), { currentVersion: "no_stream" }),
            // (the follower makes the write readable once it hears the leader committed it)
            eventually("the follower reads the write", streams.getCurrentVersion(stream), { until: (v) => v === 0n })
          ))
      )
      assert.strictEqual(version, 0n)
    }))

  it.effect("the leader killed: the client goes on over TLS with the new leader", () =>
    Effect.gen(function*() {
      const cluster = yield* EmbeddedCluster
      const streams = yield* Streams.Streams
      const stream = uniqueStream("tls-failover")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      const first = cluster.leader()!
      yield* Effect.promise(() => cluster.kill(first))
      assert.notStrictEqual(cluster.leader(), first)
      yield* streams.append(stream, newEvents(1), { currentVersion: 0n })
      assert.strictEqual((yield* streams.get(stream)).length, 2)
    }))
})

layer(
  EmbeddedCluster.layerClient({
    nodes: 3,
    insecure: false,
    tls: { certChain: Buffer.from(devNodeCert), privateKey: Buffer.from(devNodeKey), rootCerts: Buffer.from(devCaCert) },
    logger: () => {}
  }).pipe(Layer.orDie),
  { excludeTestServices: true, timeout: "60 seconds" }
)("a TLS cluster with the caller's certificates", (it) => {
  it.effect("no CA file in the connection string; the client gets the CA from layerClient", () =>
    Effect.gen(function*() {
      const cluster = yield* EmbeddedCluster
      assert.isUndefined(cluster.caFile)
      assert.match(cluster.connectionString, /^esdb:\/\/admin:changeit@localhost:\d+,localhost:\d+,localhost:\d+\?tls=true$/)
      const streams = yield* Streams.Streams
      const stream = uniqueStream("own-certs")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      assert.strictEqual((yield* streams.get(stream)).length, 1)
    }))
})
