/**
 * The client against a faked cluster: several embedded nodes, each a single node whose gossip
 * answer the test sets (the node option `gossip`), so that they report themselves as a Leader,
 * Followers or ReadOnlyReplicas. No data is replicated between them: a write lands on the one
 * node the client chose, which is how the tests see where it went.
 *
 * - NodePreference leader, follower, readonlyreplica and random pick the right member, from
 *   several `esdb://` seeds and from `esdb+discover://` (its name resolved by the connection
 *   option `resolveHost` to several loopback addresses).
 * - A preferred kind the cluster lacks is LeaderNotFound / FollowerNotFound /
 *   ReadOnlyReplicaNotFound (never a silent fallback), after MaxDiscoverAttempts rounds.
 * - However many fibers find the connection gone at once, one discovery runs (counted as gossip
 *   reads on the nodes).
 * - Appends fail over to the new leader under the retry Schedule when the leader stops; each one
 *   lands once.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { NotFound } from "../../src/errors/NotFound.ts"
import type { GossipMember } from "../../src/server/handlers/GossipHandler.ts"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { Streams } from "../../src/index.ts"
import { recoveryLog } from "../support/recoveryLog.ts"
import { eventually, freePort, newEvents, uniqueStream, withClient } from "./_support.ts"

type State = GossipMember["state"]

/** A faked cluster: its nodes, the states gossip reports for them, the gossip reads each served. */
interface FakeCluster {
  readonly nodes: ReadonlyArray<RunningNode>
  readonly states: Array<State>
  readonly alive: Array<boolean>
  readonly gossipReads: () => number
  /** `esdb://h1:p1,h2:p2,...?tls=false` */
  readonly seeds: string
}

/** Starts one node per state (on `hosts[i]`, or 127.0.0.1, with `port` when given), each reporting the shared states. */
const fakeCluster = (
  initial: ReadonlyArray<State>,
  options: { readonly hosts?: ReadonlyArray<string>; readonly port?: number } = {}
): Effect.Effect<FakeCluster, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const states = [...initial]
      const alive = initial.map(() => true)
      let reads = 0
      const nodes: Array<RunningNode> = []
      const gossip = (): ReadonlyArray<GossipMember> => {
        reads++
        return nodes.map((n, i) => ({ state: states[i]!, isAlive: alive[i]!, host: n.host, port: n.port }))
      }
      for (let i = 0; i < initial.length; i++) {
        nodes.push(await startEmbeddedNode({ insecure: true, host: options.hosts?.[i] ?? "127.0.0.1", port: options.port ?? 0, gossip }))
      }
      return {
        nodes,
        states,
        alive,
        gossipReads: () => reads,
        seeds: `esdb://${nodes.map((n) => `${n.host}:${n.port}`).join(",")}?tls=false`
      } satisfies FakeCluster
    }),
    (cluster) => Effect.promise(() => Promise.all(cluster.nodes.map((n) => n.stop())))
  )

/** The node holding the stream: the one the client wrote to (nothing is replicated). */
const holderOf = (cluster: FakeCluster, stream: string) =>
  Effect.forEach(cluster.nodes, (node, i) =>
    withClient(
      node.connectionString,
      Effect.flatMap(Streams.Streams, (streams) => streams.get(stream)).pipe(
        Effect.map((events) => ({ i, count: events.length })),
        Effect.catchIf((e): e is NotFound => e._tag === "NotFound", () => Effect.succeed({ i, count: 0 }))
      )
    )).pipe(Effect.map((all) => all.filter((h) => h.count > 0)))

const appendOne = (stream: string) =>
  Effect.flatMap(Streams.Streams, (streams) => streams.append(stream, newEvents(1), { currentVersion: "any" }))

const quick = "&maxDiscoverAttempts=2&discoveryInterval=10"
const noRetries = { retrySchedule: Schedule.recurs(0) }

describe("client against a faked cluster", { timeout: 60_000 }, () => {
  it.live("each NodePreference picks its kind of member from several seeds", () =>
    Effect.scoped(Effect.gen(function*() {
      const cluster = yield* fakeCluster(["Leader", "Follower", "Follower", "ReadOnlyReplica"])
      const wrote = (preference: string, runs: number) =>
        Effect.forEach(Array.from({ length: runs }, () => uniqueStream(preference)), (stream) =>
          Effect.gen(function*() {
            yield* withClient(`${cluster.seeds}&nodePreference=${preference}`, appendOne(stream))
            const holders = yield* holderOf(cluster, stream)
            assert.strictEqual(holders.length, 1, "written once, on one node")
            return holders[0]!.i
          }))
      assert.deepStrictEqual([...new Set(yield* wrote("leader", 4))], [0])
      const followers = new Set(yield* wrote("follower", 8))
      assert.isTrue([...followers].every((i) => i === 1 || i === 2), `followers only: ${[...followers]}`)
      assert.deepStrictEqual([...new Set(yield* wrote("readonlyreplica", 3))], [3])
      const random = new Set(yield* wrote("random", 16))
      assert.isAtLeast(random.size, 2, "random spreads over the members")
    })))

  it.live("a kind the cluster lacks is a typed error, never a fallback; a dead member does not count", () =>
    Effect.scoped(Effect.gen(function*() {
      const cluster = yield* fakeCluster(["Leader", "Follower"])
      cluster.alive[1] = false
      const stream = uniqueStream("absent")
      const run = (preference: string) =>
        Effect.flip(withClient(`${cluster.seeds}&nodePreference=${preference}${quick}`, appendOne(stream), noRetries))
      const follower = yield* run("follower")
      assert.strictEqual(follower._tag, "FollowerNotFound")
      if (follower._tag === "FollowerNotFound") {
        assert.strictEqual(follower.attempts, 2)
        assert.include(follower.members.join(","), "Follower (dead)")
      }
      assert.strictEqual((yield* run("readonlyreplica"))._tag, "ReadOnlyReplicaNotFound")
      cluster.states[0] = "Follower" // an election: no leader
      cluster.alive[1] = true
      assert.strictEqual((yield* run("leader"))._tag, "LeaderNotFound")
      assert.deepStrictEqual(yield* holderOf(cluster, stream), [], "nothing was written anywhere")
    })))

  it.live("WrongCurrentVersion and NotFound from the leader are answers, not faults: never retried, nothing rediscovered", () =>
    Effect.scoped(Effect.gen(function*() {
      const cluster = yield* fakeCluster(["Leader", "Follower"])
      const stream = uniqueStream("refused")
      const log = recoveryLog()
      const [wrong, missing, reads] = yield* withClient(
        cluster.seeds,
        log.capture(Effect.gen(function*() {
          const api = yield* Streams.Streams
          yield* api.append(stream, newEvents(1), { currentVersion: "no_stream" })
          const reads = cluster.gossipReads()
          const wrong = yield* Effect.flip(api.append(stream, newEvents(1), { currentVersion: 5n }))
          const missing = yield* Effect.flip(api.get(uniqueStream("missing")))
          return [wrong, missing, cluster.gossipReads() - reads] as const
        })),
        { retrySchedule: Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 10 })) }
      )
      assert.strictEqual(wrong._tag, "WrongCurrentVersion")
      assert.strictEqual(missing._tag, "NotFound")
      assert.strictEqual(reads, 0, "no rediscovery")
      assert.deepStrictEqual(log.warnings, [], "no retry, no reconnect")
    })))

  it.live("a subscription outlives an election: LeaderNotFound meanwhile is resumed (logged), then it goes on from the new leader, no gap, no duplicate", () =>
    Effect.scoped(Effect.gen(function*() {
      const cluster = yield* fakeCluster(["Leader", "Follower", "Follower"])
      const [oldLeader, newLeader] = [cluster.nodes[0]!, cluster.nodes[1]!]
      const stream = uniqueStream("election")
      const events = newEvents(5)
      // the log both nodes share in a real cluster: the same events (ids) at the same revisions
      for (const node of [oldLeader, newLeader]) {
        yield* withClient(node.connectionString, Effect.flatMap(Streams.Streams, (api) =>
          api.append(stream, events.slice(0, 3), { currentVersion: "no_stream" })))
      }
      const delivered: Array<{ readonly position: bigint; readonly id: string }> = []
      const log = recoveryLog()
      const subscription = yield* withClient(
        `${cluster.seeds}${quick}`,
        log.capture(Effect.flatMap(Streams.Streams, (api) =>
          api.subscribeToStream(stream).pipe(
            Stream.take(5),
            Stream.runForEach((e) => Effect.sync(() => delivered.push({ position: e.streamPosition, id: e.id })))
          ))),
        { resumeSchedule: Schedule.spaced("20 millis") }
      ).pipe(Effect.forkScoped)
      yield* eventually("the first three events", () => delivered.length === 3)
      // an election: no leader for a while; the old leader stops
      cluster.states[0] = "Follower"
      cluster.alive[0] = false
      yield* Effect.promise(() => oldLeader.stop())
      yield* eventually("a resume after LeaderNotFound", () =>
        log.of("Streams.subscribeToStream", "resume").some((w) => w.annotations["cause"] === "LeaderNotFound"))
      // node 1 wins; the stream goes on there
      cluster.states[1] = "Leader"
      yield* withClient(newLeader.connectionString, Effect.flatMap(Streams.Streams, (api) =>
        api.append(stream, events.slice(3), { currentVersion: 2n })))
      yield* Fiber.join(subscription)
      assert.deepStrictEqual(delivered.map((d) => d.position), [0n, 1n, 2n, 3n, 4n])
      assert.deepStrictEqual(delivered.map((d) => d.id), events.map((e) => e.id))
    })))

  it.live("esdb+discover:// resolves the cluster's name through resolveHost to several addresses", () =>
    Effect.scoped(Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
      const cluster = yield* fakeCluster(["Follower", "Follower", "Leader"], { hosts, port })
      const resolved: Array<string> = []
      const resolveHost = (host: string) =>
        Effect.sync(() => {
          resolved.push(host)
          return host === "cluster.test" ? hosts : []
        })
      const stream = uniqueStream("discover")
      yield* withClient(`esdb+discover://cluster.test:${port}?tls=false`, appendOne(stream), { resolveHost })
      assert.deepStrictEqual(resolved, ["cluster.test"])
      assert.deepStrictEqual(yield* holderOf(cluster, stream), [{ i: 2, count: 1 }])
      // a name that resolves to nothing: DiscoveryFailed saying so
      const error = yield* Effect.flip(
        withClient(`esdb+discover://elsewhere.test:${port}?tls=false${quick}`, appendOne(stream), { resolveHost, ...noRetries })
      )
      assert.strictEqual(error._tag, "DiscoveryFailed")
      assert.include(error.message, `elsewhere.test:${port} resolved to no address`)
    })))

  it.live("many fibers failing together share one discovery: 40 appends in an election cost one discovery's gossip reads", () =>
    Effect.scoped(Effect.gen(function*() {
      const cluster = yield* fakeCluster(["Follower", "Follower", "Follower"])
      // 2 rounds, each asking the 3 seeds (each answers: no leader) = 6 gossip reads per discovery
      const errors = yield* withClient(
        `${cluster.seeds}${quick}`,
        Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => Effect.flip(appendOne(uniqueStream(`burst${i}`))), {
          concurrency: "unbounded"
        }),
        noRetries
      )
      assert.deepStrictEqual([...new Set(errors.map((e) => e._tag))], ["LeaderNotFound"])
      assert.strictEqual(cluster.gossipReads(), 6, "one discovery (2 rounds x 3 seeds) for all 40 fibers")
      // reads and subscriptions (each its own call, through the connection pool) share one too
      const readErrors = yield* withClient(
        `${cluster.seeds}${quick}`,
        Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) =>
          Effect.flip(Effect.flatMap(Streams.Streams, (api) => api.get(uniqueStream(`read${i}`)))), {
          concurrency: "unbounded"
        }),
        noRetries
      )
      assert.deepStrictEqual([...new Set(readErrors.map((e) => e._tag))], ["LeaderNotFound"])
      assert.strictEqual(cluster.gossipReads(), 12, "one more discovery for the 40 reads")
    })))

  it.live("the leader stops during appends from 32 fibers: they fail over to the new leader, none lost, none twice on a node", () =>
    Effect.scoped(Effect.gen(function*() {
      const cluster = yield* fakeCluster(["Leader", "Follower", "Follower"])
      const [oldLeader, newLeader] = [cluster.nodes[0]!, cluster.nodes[1]!]
      const streams = Array.from({ length: 32 }, (_, i) => uniqueStream(`failover${i}`))
      const perFiber = 10
      let acked = 0
      let readsBefore = 0
      const log = recoveryLog()
      // after 100 acknowledged appends, node 1 is elected and node 0 stops (its port then refuses)
      const failover = Effect.promise(async () => {
        readsBefore = cluster.gossipReads()
        cluster.states[0] = "Follower"
        cluster.alive[0] = false
        cluster.states[1] = "Leader"
        await oldLeader.stop()
      })
      const appended = yield* withClient(
        `${cluster.seeds}&discoveryInterval=10`,
        log.capture(Effect.flatMap(Streams.Streams, (api) =>
          Effect.forEach(streams, (stream) =>
            Effect.forEach(Array.from({ length: perFiber }, (_, k) => k), (k) => {
              const event = newEvents(1, `E${k}`)[0]!
              return api.append(stream, event, { currentVersion: "any" }).pipe(
                Effect.andThen(Effect.suspend(() => ++acked === 100 ? failover : Effect.void)),
                Effect.as(event.id)
              )
            }), { concurrency: "unbounded" }))),
        { retrySchedule: Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 50 })) }
      )
      assert.strictEqual(acked, 32 * perFiber, "every append was acknowledged")
      // no replication in a faked cluster: each append is on the old leader (before) or the new one
      // (after); on neither twice
      const onNew = new Map<string, number>()
      for (const stream of streams) {
        const events = yield* withClient(
          newLeader.connectionString,
          Effect.flatMap(Streams.Streams, (api) => api.get(stream)).pipe(
            Effect.catchIf((e): e is NotFound => e._tag === "NotFound", () => Effect.succeed([]))
          )
        )
        for (const e of events) onNew.set(e.id, (onNew.get(e.id) ?? 0) + 1)
      }
      assert.isTrue([...onNew.values()].every((n) => n === 1), "no append twice on the new leader")
      const ids = appended.flat()
      assert.isAtLeast(ids.filter((id) => onNew.has(id)).length, 32 * perFiber - 100 - 32, "the appends after the stop are on the new leader")
      // logged: the appends' retries, and the one move to the new leader, found by one gossip read
      assert.isAtLeast(log.of("Streams.append", "retry").length, 1)
      const moves = log.of("connection", "reconnect")
      assert.strictEqual(moves.length, 1)
      assert.strictEqual(
        moves[0]!.text,
        `effect-esdb: connecting to ${newLeader.host}:${newLeader.port}, discovered by gossip (NodePreference=leader), in place of ${oldLeader.host}:${oldLeader.port}`
      )
      assert.strictEqual(cluster.gossipReads() - readsBefore, 1)
    })))
})
