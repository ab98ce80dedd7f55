/**
 * Connecting: gossip discovery against a single node (seed checklist items 67, 76-80), refused
 * and unresolvable endpoints, several seeds of which some are bad.
 */
import * as grpc from "@grpc/grpc-js"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { Streams } from "../../src/index.ts"
import { readGossipOverGrpc } from "../../src/internal/transport/Discovery.ts"
import { asDiscover, freePort, newEvents, nodeLayer, EmbeddedNode, uniqueStream, withClient, withHostPort } from "./_support.ts"

/** Appends two events and reads them back: proof that the client reached a working node. */
const roundTrip = Effect.gen(function*() {
  const streams = yield* Streams.Streams
  const stream = uniqueStream("connect")
  yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
  return (yield* streams.get(stream)).map((e) => e.streamPosition)
})

const noRetries = { retrySchedule: Schedule.recurs(0) }

layer(nodeLayer(), { excludeTestServices: true, timeout: "30 seconds" })("discovery", (it) => {
  it.effect("a single node's gossip reports one member: the leader, at the node's host and port", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const members = yield* readGossipOverGrpc(
        { host: node.host, port: node.port },
        grpc.credentials.createInsecure(),
        {},
        5000
      )
      assert.deepStrictEqual(members, [{ state: "Leader", isAlive: true, endpoint: { host: node.host, port: node.port } }])
    }))

  it.effect("an esdb+discover:// string connects through gossip and works", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const connectionString = asDiscover(node.connectionString)
      assert.match(connectionString, /^esdb\+discover:\/\/127\.0\.0\.1:\d+\?tls=false$/)
      assert.deepStrictEqual(yield* withClient(connectionString, roundTrip), [0n, 1n])
    }))

  it.effect("a single node under discovery: random serves (its leader); follower and readonlyreplica are typed errors, no fallback", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const base = `${asDiscover(node.connectionString)}&maxDiscoverAttempts=2&discoveryInterval=10`
      assert.deepStrictEqual(yield* withClient(`${base}&nodePreference=random`, roundTrip), [0n, 1n])
      const follower = yield* Effect.flip(withClient(`${base}&nodePreference=follower`, roundTrip, noRetries))
      assert.strictEqual(follower._tag, "FollowerNotFound")
      if (follower._tag === "FollowerNotFound") {
        assert.strictEqual(follower.attempts, 2)
        assert.deepStrictEqual(follower.members, [`${node.host}:${node.port} Leader`])
      }
      const replica = yield* Effect.flip(withClient(`${base}&nodePreference=readonlyreplica`, roundTrip, noRetries))
      assert.strictEqual(replica._tag, "ReadOnlyReplicaNotFound")
    }))

  it.effect("an unresolvable discover seed fails with DiscoveryFailed naming the seed and its port", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        withClient("esdb+discover://no-such-host.invalid:2114?tls=false&maxDiscoverAttempts=2&discoveryInterval=10&gossipTimeout=1", roundTrip, noRetries)
      )
      assert.strictEqual(error._tag, "DiscoveryFailed")
      if (error._tag === "DiscoveryFailed") {
        assert.strictEqual(error.attempts, 2)
        assert.include(error.reason, "no-such-host.invalid:2114")
      }
    }))

  it.effect("a refused discover seed fails with DiscoveryFailed naming the port", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const error = yield* Effect.flip(
        withClient(`esdb+discover://127.0.0.1:${port}?tls=false&maxDiscoverAttempts=3&discoveryInterval=10`, roundTrip, noRetries)
      )
      assert.strictEqual(error._tag, "DiscoveryFailed")
      if (error._tag === "DiscoveryFailed") {
        assert.strictEqual(error.attempts, 3)
        assert.include(error.reason, `127.0.0.1:${port}`)
        assert.include(error.message, `127.0.0.1:${port}`)
      }
    }))

  it.effect("a refused port on a single-node string fails with ServiceUnavailable after the retries", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const started = Date.now()
      const error = yield* Effect.flip(
        withClient(`esdb://127.0.0.1:${port}?tls=false`, roundTrip, {
          retrySchedule: Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 2 }))
        })
      )
      assert.strictEqual(error._tag, "ServiceUnavailable")
      if (error._tag === "ServiceUnavailable") assert.include(error.reason, String(port))
      assert.isAtLeast(Date.now() - started, 100, "two retries, 50 ms apart, were made")
    }))

  it.effect("bad seeds before a good one: the client connects; only bad seeds: DiscoveryFailed", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const [bad1, bad2] = [yield* Effect.promise(freePort), yield* Effect.promise(freePort)]
      const good = `${node.host}:${node.port}`
      const mixed = withHostPort(node.connectionString, `127.0.0.1:${bad1},127.0.0.1:${bad2},${good}`)
      assert.deepStrictEqual(yield* withClient(`${mixed}&discoveryInterval=10`, roundTrip), [0n, 1n])
      const allBad = withHostPort(node.connectionString, `127.0.0.1:${bad1},127.0.0.1:${bad2}`)
      const error = yield* Effect.flip(
        withClient(`${allBad}&maxDiscoverAttempts=2&discoveryInterval=10`, roundTrip, noRetries)
      )
      assert.strictEqual(error._tag, "DiscoveryFailed")
    }))
})
