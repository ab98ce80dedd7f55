import * as grpc from "@grpc/grpc-js"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import { TestClock } from "effect/testing"
import * as net from "node:net"
import { DiscoveryFailed } from "../src/errors/DiscoveryFailed.ts"
import { FollowerNotFound } from "../src/errors/FollowerNotFound.ts"
import { LeaderNotFound } from "../src/errors/LeaderNotFound.ts"
import { ReadOnlyReplicaNotFound } from "../src/errors/ReadOnlyReplicaNotFound.ts"
import { type ClusterInfo, GossipService, MemberInfo_VNodeState } from "../src/generated/gossip.ts"
import type { Endpoint, NodePreference } from "../src/internal/ConnectionString.ts"
import {
  discover,
  gossipMembersFromClusterInfo,
  type MemberInfo,
  orderMembers,
  readGossipOverGrpc,
  type VNodeState
} from "../src/internal/transport/Discovery.ts"
import { eventually } from "./support/eventually.ts"

const member = (state: VNodeState, port: number, isAlive = true): MemberInfo => ({
  state,
  isAlive,
  endpoint: { host: "10.0.0.1", port }
})

const seedA: Endpoint = { host: "seed-a", port: 2113 }
const seedB: Endpoint = { host: "seed-b", port: 2113 }
const seedC: Endpoint = { host: "seed-c", port: 2113 }

const cluster: ReadonlyArray<MemberInfo> = [
  member("Leader", 1),
  member("Follower", 2),
  member("Follower", 3),
  member("Follower", 4, false), // dead
  member("Manager", 5),
  member("CatchingUp", 6),
  member("ReadOnlyReplica", 7),
  member("PreReadOnlyReplica", 8),
  member("ReadOnlyLeaderless", 9)
]

/** Runs discovery against a fixed gossip answer with `runs` different random seeds; returns the chosen ports. */
const choices = (preference: NodePreference, members: ReadonlyArray<MemberInfo>, runs = 40) =>
  Effect.forEach(Array.from({ length: runs }, (_, i) => i), (seed) =>
    discover({
      seeds: [seedA],
      preference,
      maxDiscoverAttempts: 1,
      discoveryInterval: 0,
      readGossip: () => Effect.succeed(members)
    }).pipe(Effect.map((e) => e.port), Random.withSeed(seed)))

const distinct = (ports: ReadonlyArray<number>) => [...new Set(ports)].sort((a, b) => a - b)

describe("Discovery", () => {
  describe("gossipMembersFromClusterInfo", () => {
    it("names states, keeps liveness and endpoint, and drops members without endpoint", () => {
      const info: ClusterInfo = {
        members: [
          { timeStamp: 1n, state: MemberInfo_VNodeState.Leader, isAlive: true, httpEndPoint: { address: "node1", port: 2113 } },
          { timeStamp: 1n, state: MemberInfo_VNodeState.Follower, isAlive: false, httpEndPoint: { address: "node2", port: 2114 } },
          { timeStamp: 1n, state: MemberInfo_VNodeState.ReadOnlyReplica, isAlive: true, httpEndPoint: { address: "::1", port: 2115 } },
          { timeStamp: 1n, state: 99 as MemberInfo_VNodeState, isAlive: true, httpEndPoint: { address: "node4", port: 1 } },
          { timeStamp: 1n, state: MemberInfo_VNodeState.Follower, isAlive: true, httpEndPoint: undefined },
          { timeStamp: 1n, state: MemberInfo_VNodeState.Follower, isAlive: true, httpEndPoint: { address: "", port: 1 } }
        ]
      }
      assert.deepStrictEqual(gossipMembersFromClusterInfo(info), [
        { state: "Leader", isAlive: true, endpoint: { host: "node1", port: 2113 } },
        { state: "Follower", isAlive: false, endpoint: { host: "node2", port: 2114 } },
        { state: "ReadOnlyReplica", isAlive: true, endpoint: { host: "::1", port: 2115 } },
        { state: "Unknown", isAlive: true, endpoint: { host: "node4", port: 1 } }
      ])
    })

    it("maps every protocol state to its name", () => {
      for (const [name, value] of Object.entries(MemberInfo_VNodeState)) {
        if (name === "UNRECOGNIZED") continue
        const [m] = gossipMembersFromClusterInfo({
          members: [{ timeStamp: 0n, state: value, isAlive: true, httpEndPoint: { address: "h", port: 1 } }]
        })
        assert.strictEqual(m?.state, name)
      }
    })
  })

  describe("node preference", () => {
    it.effect("leader picks the leader", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(distinct(yield* choices("leader", cluster)), [1])
      }))

    it.effect("follower picks a random live follower", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(distinct(yield* choices("follower", cluster)), [2, 3])
      }))

    it.effect("readonlyreplica ranks ReadOnlyReplica > PreReadOnlyReplica > ReadOnlyLeaderless", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(distinct(yield* choices("readonlyreplica", cluster)), [7])
        const noReplica = cluster.filter((m) => m.state !== "ReadOnlyReplica")
        assert.deepStrictEqual(distinct(yield* choices("readonlyreplica", noReplica)), [8])
        const leaderless = noReplica.filter((m) => m.state !== "PreReadOnlyReplica")
        assert.deepStrictEqual(distinct(yield* choices("readonlyreplica", leaderless)), [9])
      }))

    it.effect("random picks any eligible member, never a dead or non-serving one", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(distinct(yield* choices("random", cluster, 120)), [1, 2, 3, 7, 8, 9])
      }))

    it.effect("no fallback: a preferred kind that is absent is a typed error, listing what gossip reported", () =>
      Effect.gen(function*() {
        const fails = (preference: NodePreference, members: ReadonlyArray<MemberInfo>) =>
          Effect.flip(discover({
            seeds: [seedA],
            preference,
            maxDiscoverAttempts: 2,
            discoveryInterval: 0,
            readGossip: () => Effect.succeed(members)
          }))
        // a single node: follower and read-only preferences never get the leader
        const single = [member("Leader", 1)]
        const noFollower = yield* fails("follower", single)
        assert.instanceOf(noFollower, FollowerNotFound)
        assert.strictEqual(noFollower.attempts, 2)
        if (noFollower._tag === "FollowerNotFound") assert.deepStrictEqual(noFollower.members, ["10.0.0.1:1 Leader"])
        assert.include(noFollower.message, "No follower found by gossip after 2 attempt(s)")
        const noReplica = yield* fails("readonlyreplica", [member("Leader", 1), member("Follower", 2), member("Follower", 3)])
        assert.instanceOf(noReplica, ReadOnlyReplicaNotFound)
        // a dead follower is no follower
        assert.instanceOf(yield* fails("follower", [member("Leader", 1), member("Follower", 2, false)]), FollowerNotFound)
        // during an election (no leader), a leader preference does not take a follower
        const election = [member("Follower", 2), member("PreLeader", 3), member("Follower", 4, false)]
        const noLeader = yield* fails("leader", election)
        assert.instanceOf(noLeader, LeaderNotFound)
        if (noLeader._tag === "LeaderNotFound") {
          assert.deepStrictEqual(noLeader.members, ["10.0.0.1:2 Follower", "10.0.0.1:3 PreLeader", "10.0.0.1:4 Follower (dead)"])
        }
        // random: any eligible member, else DiscoveryFailed
        assert.instanceOf(yield* fails("random", [member("Manager", 5), member("Leader", 1, false)]), DiscoveryFailed)
      }))

    it.effect("an election ends within the rounds: LeaderNotFound rounds are retried, DiscoveryInterval apart", () =>
      Effect.gen(function*() {
        let reads = 0
        const fiber = yield* Effect.forkChild(discover({
          seeds: [seedA],
          preference: "leader",
          maxDiscoverAttempts: 5,
          discoveryInterval: "200 millis",
          readGossip: () => {
            reads++
            return Effect.succeed(reads < 3 ? [member("Follower", 2), member("PreLeader", 3)] : [member("Follower", 2), member("Leader", 3)])
          }
        }))
        yield* Effect.yieldNow
        assert.strictEqual(reads, 1)
        yield* TestClock.adjust("200 millis")
        assert.strictEqual(reads, 2)
        yield* TestClock.adjust("200 millis")
        assert.deepStrictEqual(yield* Fiber.join(fiber), { host: "10.0.0.1", port: 3 })
      }))

    it.effect("a seed that answers without the preferred kind does not stop the round: the next seed is asked", () =>
      Effect.gen(function*() {
        const endpoint = yield* discover({
          seeds: [seedA, seedB],
          preference: "leader",
          maxDiscoverAttempts: 1,
          discoveryInterval: 0,
          readGossip: (seed) =>
            // seed-a is cut off and sees no leader; seed-b sees the new one
            Effect.succeed(seed.host === "seed-a" ? [member("Follower", 1)] : [member("Follower", 1), member("Leader", 2)])
        })
        assert.deepStrictEqual(endpoint, { host: "10.0.0.1", port: 2 })
      }))

    it.effect("orderMembers lists only the preferred kind, best rank first", () =>
      Effect.gen(function*() {
        const ordered = yield* orderMembers("readonlyreplica", cluster).pipe(Random.withSeed(7))
        assert.deepStrictEqual(ordered.map((m) => m.state), ["ReadOnlyReplica", "PreReadOnlyReplica", "ReadOnlyLeaderless"])
        assert.deepStrictEqual(yield* orderMembers("follower", [member("Leader", 1)]), [])
      }))
  })

  describe("rounds", () => {
    it.effect("retries after discoveryInterval (TestClock) until gossip answers", () =>
      Effect.gen(function*() {
        let calls = 0
        const fiber = yield* Effect.forkChild(discover({
          seeds: [seedA],
          preference: "leader",
          maxDiscoverAttempts: 5,
          discoveryInterval: "1 second",
          readGossip: () => {
            calls++
            return calls < 3 ? Effect.fail(new Error(`refused ${calls}`)) : Effect.succeed(cluster)
          }
        }))
        yield* Effect.yieldNow
        assert.strictEqual(calls, 1)
        yield* TestClock.adjust("999 millis")
        assert.strictEqual(calls, 1)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(calls, 2)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(calls, 3)
        const endpoint = yield* Fiber.join(fiber)
        assert.deepStrictEqual(endpoint, { host: "10.0.0.1", port: 1 })
      }))

    it.effect("fails with DiscoveryFailed after the last round, with attempts and the last reason", () =>
      Effect.gen(function*() {
        const asked: Array<string> = []
        const fiber = yield* Effect.forkChild(Effect.flip(discover({
          seeds: [seedA, seedB],
          preference: "leader",
          maxDiscoverAttempts: 3,
          discoveryInterval: "100 millis",
          readGossip: (seed) => {
            asked.push(seed.host)
            return Effect.fail(new Error(`connection refused by ${seed.host}`))
          }
        })))
        yield* Effect.yieldNow
        assert.strictEqual(asked.length, 2) // both seeds in round 1
        yield* TestClock.adjust("100 millis")
        assert.strictEqual(asked.length, 4)
        yield* TestClock.adjust("100 millis")
        // round 3 is the last: no sleep after it
        const error = yield* Fiber.join(fiber)
        assert.instanceOf(error, DiscoveryFailed)
        assert.strictEqual(error.attempts, 3)
        assert.strictEqual(asked.length, 6)
        const last = asked[5]!
        assert.strictEqual(error.reason, `Failed to read gossip from ${last}:2113: connection refused by ${last}`)
        assert.strictEqual(
          error.message,
          `Failed to discover a cluster member after 3 attempt(s): Failed to read gossip from ${last}:2113: connection refused by ${last}`
        )
      }))

    it.effect("reports gossip without eligible member", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(discover({
          seeds: [seedA],
          preference: "random",
          maxDiscoverAttempts: 2,
          discoveryInterval: 0,
          readGossip: () => Effect.succeed([member("Leader", 1, false), member("CatchingUp", 2)])
        }))
        assert.strictEqual(error.attempts, 2)
        assert.strictEqual(error._tag, "DiscoveryFailed")
        if (error._tag === "DiscoveryFailed") assert.strictEqual(
          error.reason,
          "Gossip from seed-a:2113 listed no eligible member (10.0.0.1:1 Leader (dead), 10.0.0.1:2 CatchingUp)"
        )
      }))

    it.effect("tries the next seed in the same round and stops at the first useful answer", () =>
      Effect.gen(function*() {
        const asked: Array<string> = []
        const endpoint = yield* discover({
          seeds: [seedA, seedB, seedC],
          preference: "follower",
          maxDiscoverAttempts: 1,
          discoveryInterval: "1 hour",
          readGossip: (seed) => {
            asked.push(seed.host)
            return asked.length === 1
              ? Effect.fail("timeout")
              : asked.length === 2
              ? Effect.succeed([])
              : Effect.succeed([member("Follower", 42)])
          }
        })
        assert.deepStrictEqual(endpoint, { host: "10.0.0.1", port: 42 })
        assert.strictEqual(asked.length, 3)
      }))

    it.effect("shuffles the seeds and asks a previously failed endpoint last", () =>
      Effect.gen(function*() {
        const rounds: Array<Array<string>> = []
        yield* Effect.flip(discover({
          seeds: [seedA, seedB, seedC],
          preference: "leader",
          maxDiscoverAttempts: 20,
          discoveryInterval: 0,
          failedEndpoint: { host: "seed-b", port: 2113 },
          readGossip: (seed) => {
            const round = rounds.at(-1)
            if (round === undefined || round.length === 3) rounds.push([seed.host])
            else round.push(seed.host)
            return Effect.fail("down")
          }
        })).pipe(Random.withSeed("shuffle"))
        assert.strictEqual(rounds.length, 20)
        for (const round of rounds) {
          assert.strictEqual(round[2], "seed-b")
          assert.deepStrictEqual([...round].sort(), ["seed-a", "seed-b", "seed-c"])
        }
        assert.deepStrictEqual(distinct(rounds.map((r) => r[0] === "seed-a" ? 1 : 2)), [1, 2])
      }))

    it.effect("GossipTimeout is on the Clock: a seed that does not answer in time counts as failed, the next is asked", () =>
      Effect.gen(function*() {
        const asked: Array<string> = []
        const fiber = yield* Effect.forkChild(discover({
          seeds: [seedA, seedB],
          preference: "leader",
          maxDiscoverAttempts: 1,
          discoveryInterval: 0,
          gossipTimeout: "5 seconds",
          readGossip: (seed) => {
            asked.push(seed.host)
            // the first seed asked never answers
            return asked.length === 1 ? Effect.never : Effect.succeed([member("Leader", 1)])
          }
        }).pipe(Random.withSeed(1)))
        yield* Effect.yieldNow
        assert.strictEqual(asked.length, 1)
        yield* TestClock.adjust("4999 millis")
        assert.strictEqual(asked.length, 1, "still waiting within the gossip timeout")
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(yield* Fiber.join(fiber), { host: "10.0.0.1", port: 1 })
        assert.strictEqual(asked.length, 2)
      }))

    it.effect("GossipTimeout: every seed silent ends the round with DiscoveryFailed naming the timeout", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Effect.flip(discover({
          seeds: [seedA],
          preference: "leader",
          maxDiscoverAttempts: 2,
          discoveryInterval: "1 second",
          gossipTimeout: "3 seconds",
          readGossip: () => Effect.never
        })))
        // round 1 (3 s), the interval (1 s), round 2 (3 s)
        yield* TestClock.adjust("6999 millis")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "DiscoveryFailed")
        assert.strictEqual(error.attempts, 2)
        assert.include(error.message, "seed-a:2113: no answer within the gossip timeout (3000 ms)")
      }))

    it.effect("with resolve (esdb+discover), every address of the cluster's name is a seed, resolved every round", () =>
      Effect.gen(function*() {
        const resolved: Array<string> = []
        const asked: Array<string> = []
        const error = yield* Effect.flip(discover({
          seeds: [{ host: "cluster.example", port: 2113 }],
          preference: "leader",
          maxDiscoverAttempts: 2,
          discoveryInterval: 0,
          resolve: (host) => {
            resolved.push(host)
            return Effect.succeed(["127.0.0.1", "127.0.0.2", "127.0.0.3"])
          },
          readGossip: (seed) => {
            asked.push(`${seed.host}:${seed.port}`)
            return Effect.fail("refused")
          }
        }))
        assert.strictEqual(error._tag, "DiscoveryFailed")
        assert.deepStrictEqual(resolved, ["cluster.example", "cluster.example"])
        assert.deepStrictEqual([...asked].sort(), [
          "127.0.0.1:2113", "127.0.0.1:2113", "127.0.0.2:2113", "127.0.0.2:2113", "127.0.0.3:2113", "127.0.0.3:2113"
        ])
        const found = yield* discover({
          seeds: [{ host: "cluster.example", port: 2113 }],
          preference: "follower",
          maxDiscoverAttempts: 1,
          discoveryInterval: 0,
          resolve: () => Effect.succeed(["127.0.0.2"]),
          readGossip: (seed) => Effect.succeed([{ state: "Follower", isAlive: true, endpoint: { host: seed.host, port: 7 } }])
        })
        assert.deepStrictEqual(found, { host: "127.0.0.2", port: 7 })
      }))

    it.effect("a name that does not resolve fails the round with the resolver's reason", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(discover({
          seeds: [{ host: "nowhere.example", port: 2114 }],
          preference: "leader",
          maxDiscoverAttempts: 1,
          discoveryInterval: 0,
          resolve: () => Effect.fail(new Error("getaddrinfo ENOTFOUND nowhere.example")),
          readGossip: () => Effect.succeed(cluster)
        }))
        assert.strictEqual(error._tag, "DiscoveryFailed")
        if (error._tag === "DiscoveryFailed") {
          assert.strictEqual(error.reason, "Failed to resolve nowhere.example:2114: getaddrinfo ENOTFOUND nowhere.example")
        }
        const empty = yield* Effect.flip(discover({
          seeds: [{ host: "empty.example", port: 2113 }],
          preference: "leader",
          maxDiscoverAttempts: 1,
          discoveryInterval: 0,
          resolve: () => Effect.succeed([]),
          readGossip: () => Effect.succeed(cluster)
        }))
        assert.include(empty.message, "empty.example:2113 resolved to no address")
      }))

    it.effect("fails at once without seeds", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(discover({
          seeds: [],
          preference: "leader",
          maxDiscoverAttempts: 3,
          discoveryInterval: 0,
          readGossip: () => Effect.succeed(cluster)
        }))
        assert.strictEqual(error.attempts, 0)
      }))
  })

  describe("readGossipOverGrpc", () => {
    interface GossipServer {
      readonly port: number
      readonly close: () => void
    }
    const startGossip = (
      read: (callback: grpc.sendUnaryData<ClusterInfo>) => void
    ): Promise<GossipServer> =>
      new Promise((resolve, reject) => {
        const server = new grpc.Server()
        server.addService(GossipService, {
          read: (_call: grpc.ServerUnaryCall<unknown, ClusterInfo>, callback: grpc.sendUnaryData<ClusterInfo>) =>
            read(callback)
        })
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
          if (error !== null) reject(error)
          else resolve({ port, close: () => server.forceShutdown() })
        })
      })
    const useGossip = <A, E>(
      read: (callback: grpc.sendUnaryData<ClusterInfo>) => void,
      f: (server: GossipServer) => Effect.Effect<A, E>
    ) => Effect.acquireUseRelease(Effect.promise(() => startGossip(read)), f, (s) => Effect.sync(s.close))

    /** A TCP relay in front of a port, counting the client connections that are still open. */
    const startRelay = (target: number) =>
      new Promise<{ readonly port: number; readonly open: () => number; readonly close: () => void }>((resolve) => {
        const sockets = new Set<net.Socket>()
        const relay = net.createServer((socket) => {
          sockets.add(socket)
          const upstream = net.connect(target, "127.0.0.1")
          socket.pipe(upstream).pipe(socket)
          const done = () => {
            sockets.delete(socket)
            socket.destroy()
            upstream.destroy()
          }
          socket.on("close", done).on("error", done)
          upstream.on("close", done).on("error", done)
        })
        relay.listen(0, "127.0.0.1", () => {
          const address = relay.address() as net.AddressInfo
          resolve({
            port: address.port,
            open: () => sockets.size,
            close: () => {
              for (const s of sockets) s.destroy()
              relay.close()
            }
          })
        })
      })

    const insecure = grpc.credentials.createInsecure()

    const clusterInfo = (port: number): ClusterInfo => ({
      members: [
        { timeStamp: 1n, state: MemberInfo_VNodeState.Follower, isAlive: true, httpEndPoint: { address: "127.0.0.1", port: port + 1 } },
        { timeStamp: 2n, state: MemberInfo_VNodeState.Leader, isAlive: true, httpEndPoint: { address: "127.0.0.1", port } }
      ]
    })

    it.live("reads the members over gRPC and closes its client afterwards", () => {
      let leaderPort = 0
      return useGossip((callback) => callback(null, clusterInfo(leaderPort)), (server) =>
        Effect.acquireUseRelease(
          Effect.promise(() => startRelay(server.port)),
          (relay) =>
            Effect.gen(function*() {
              leaderPort = server.port
              const members = yield* readGossipOverGrpc({ host: "127.0.0.1", port: relay.port }, insecure, {}, 2000)
              assert.deepStrictEqual(members, [
                { state: "Follower", isAlive: true, endpoint: { host: "127.0.0.1", port: server.port + 1 } },
                { state: "Leader", isAlive: true, endpoint: { host: "127.0.0.1", port: server.port } }
              ])
              // the short-lived client's connection goes away
              yield* eventually("the short-lived client's connection closed", () => relay.open() === 0)
            }),
          (relay) => Effect.sync(relay.close)
        ))
    })

    it.live("fails with DeadlineExceeded when the node does not answer in time", () =>
      useGossip(() => {
        // never answers
      }, (server) =>
        Effect.gen(function*() {
          const started = Date.now()
          const error = yield* Effect.flip(readGossipOverGrpc({ host: "127.0.0.1", port: server.port }, insecure, {}, 200))
          assert.strictEqual(error._tag, "DeadlineExceeded")
          // discovery names the seed in its reason ("Failed to read gossip from host:port: ...")
          assert.match(error.message, /Deadline exceeded/i)
          assert.isBelow(Date.now() - started, 5000)
        })))

    it.live("fails with ServiceUnavailable when nothing listens", () =>
      Effect.gen(function*() {
        const server = yield* Effect.promise(() => startGossip((callback) => callback(null, { members: [] })))
        server.close()
        const error = yield* Effect.flip(readGossipOverGrpc({ host: "127.0.0.1", port: server.port }, insecure, {}, 2000))
        assert.strictEqual(error._tag, "ServiceUnavailable")
      }))

    it.live("classifies other statuses with the one classifier: PERMISSION_DENIED is AccessDenied", () =>
      useGossip((callback) => callback({ code: grpc.status.PERMISSION_DENIED, details: "no gossip for you" }), (server) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(readGossipOverGrpc({ host: "127.0.0.1", port: server.port }, insecure, {}, 2000))
          assert.strictEqual(error._tag, "AccessDenied")
          assert.include(error.message, "no gossip for you")
        })))

    it.live("keeps statuses the classifier does not know as GrpcError", () =>
      useGossip((callback) => callback({ code: grpc.status.FAILED_PRECONDITION, details: "no gossip for you" }), (server) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(readGossipOverGrpc({ host: "127.0.0.1", port: server.port }, insecure, {}, 2000))
          assert.strictEqual(error._tag, "GrpcError")
          if (error._tag === "GrpcError") {
            assert.strictEqual(error.code, grpc.status.FAILED_PRECONDITION)
            assert.include(error.details, "no gossip for you")
          }
        })))

    it.live("discovers the preferred member through a dead seed and a live one", () => {
      let port = 0
      return useGossip((callback) => callback(null, clusterInfo(port)), (server) =>
        Effect.gen(function*() {
          port = server.port
          const dead = yield* Effect.promise(() => startGossip((callback) => callback(null, { members: [] })))
          dead.close()
          const seeds = [{ host: "127.0.0.1", port: dead.port }, { host: "127.0.0.1", port: server.port }]
          const read = (seed: Endpoint) => readGossipOverGrpc(seed, insecure, {}, 2000)
          const leader = yield* discover({
            seeds,
            preference: "leader",
            maxDiscoverAttempts: 2,
            discoveryInterval: 0,
            readGossip: read
          })
          assert.deepStrictEqual(leader, { host: "127.0.0.1", port: server.port })
          const follower = yield* discover({
            seeds,
            preference: "follower",
            maxDiscoverAttempts: 2,
            discoveryInterval: 0,
            readGossip: read
          })
          assert.deepStrictEqual(follower, { host: "127.0.0.1", port: server.port + 1 })
        }))
    })
  })
})
