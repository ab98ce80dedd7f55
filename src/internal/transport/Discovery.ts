/**
 * Gossip discovery: ask seed nodes for the cluster's members and pick one by node preference.
 *
 * The algorithm follows the official Node client (ANCHORS.md, Part B §4):
 *
 * - Up to `maxDiscoverAttempts` rounds, `discoveryInterval` apart, repeated by a `Schedule` (so
 *   `TestClock` drives it in tests). No pause follows the last round.
 * - Each round asks the seeds in random order, a previously failed endpoint last, until one
 *   answers with an eligible member.
 * - Eligible members are alive and in state Follower, Leader, ReadOnlyReplica,
 *   PreReadOnlyReplica or ReadOnlyLeaderless. They are shuffled and stable-sorted by preference:
 *   `leader` puts the leader first, `follower` the followers, `readonlyreplica` ranks
 *   ReadOnlyReplica > PreReadOnlyReplica > ReadOnlyLeaderless; `random` keeps the shuffle.
 *   Members in other eligible states stay as fallbacks, so a `follower` preference on a single
 *   node picks the leader, and a `leader` preference during an election picks a follower (whose
 *   NotLeader answers then name the new leader).
 * - After the last round: {@link DiscoveryFailed} with the number of rounds and the last reason.
 *
 * The gossip call is injected (`readGossip`), so the algorithm is unit-testable;
 * {@link readGossipOverGrpc} is the real one.
 *
 * @since 0.1.0
 */
import * as grpc from "@grpc/grpc-js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import { DiscoveryFailed } from "../../errors/DiscoveryFailed.ts"
import { type ClusterInfo, GossipClient, MemberInfo_VNodeState } from "../../generated/gossip.ts"
import { type Endpoint, formatEndpoint, type NodePreference } from "../ConnectionString.ts"
import { classifyError, type EsdbError } from "./classifyError.ts"

/**
 * A node's role in the cluster, by name (the `VNodeState` enum of gossip.proto). Numbers the
 * client does not know become `"Unknown"`.
 *
 * @since 0.1.0
 * @category models
 */
export type VNodeState = Exclude<keyof typeof MemberInfo_VNodeState, "UNRECOGNIZED">

/**
 * One cluster member as gossip reports it: its state by name, whether it is alive, and the
 * endpoint clients connect to (the member's `http_end_point`, which also serves gRPC).
 *
 * @since 0.1.0
 * @category models
 */
export interface MemberInfo {
  readonly state: VNodeState
  readonly isAlive: boolean
  readonly endpoint: Endpoint
}

const stateNames: ReadonlyMap<number, VNodeState> = new Map(
  (Object.entries(MemberInfo_VNodeState) as Array<[keyof typeof MemberInfo_VNodeState, number]>)
    .filter((entry): entry is [VNodeState, number] => entry[0] !== "UNRECOGNIZED")
    .map(([name, value]) => [value, name])
)

/**
 * Converts a decoded gossip answer into {@link MemberInfo}s. Members without an endpoint are
 * left out (a client cannot connect to them); unknown states become `"Unknown"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const gossipMembersFromClusterInfo = (info: ClusterInfo): Array<MemberInfo> => {
  const members: Array<MemberInfo> = []
  for (const member of info.members) {
    const endpoint = member.httpEndPoint
    if (endpoint === undefined || endpoint.address.length === 0) continue
    members.push({
      state: stateNames.get(member.state) ?? "Unknown",
      isAlive: member.isAlive,
      endpoint: { host: endpoint.address, port: endpoint.port }
    })
  }
  return members
}

const eligibleStates: ReadonlySet<VNodeState> = new Set([
  "Follower",
  "Leader",
  "ReadOnlyReplica",
  "PreReadOnlyReplica",
  "ReadOnlyLeaderless"
])

/**
 * Whether discovery may pick a member: alive, and a Follower, Leader, ReadOnlyReplica,
 * PreReadOnlyReplica or ReadOnlyLeaderless.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isEligible = (member: MemberInfo): boolean => member.isAlive && eligibleStates.has(member.state)

/** Preferred states, best first; states not listed rank after them (as fallbacks). */
const preferredStates = (preference: NodePreference): ReadonlyArray<VNodeState> => {
  switch (preference) {
    case "leader":
      return ["Leader"]
    case "follower":
      return ["Follower"]
    case "readonlyreplica":
      return ["ReadOnlyReplica", "PreReadOnlyReplica", "ReadOnlyLeaderless"]
    case "random":
      return []
  }
}

/**
 * The eligible members, shuffled (with the `Random` service) and then stable-sorted by
 * preference: the first is the member discovery picks, the rest are the fallbacks in order.
 *
 * @since 0.1.0
 * @category selection
 */
export const orderMembers = (
  preference: NodePreference,
  members: ReadonlyArray<MemberInfo>
): Effect.Effect<Array<MemberInfo>> =>
  Effect.map(Random.shuffle(members.filter(isEligible)), (shuffled) => {
    const preferred = preferredStates(preference)
    const rank = (m: MemberInfo) => {
      const i = preferred.indexOf(m.state)
      return i < 0 ? preferred.length : i
    }
    // Array.prototype.sort is stable
    return shuffled.sort((a, b) => rank(a) - rank(b))
  })

/**
 * Options of {@link discover}.
 *
 * @since 0.1.0
 * @category models
 */
export interface DiscoverOptions {
  /** The seeds to ask (the connection string's hosts). */
  readonly seeds: ReadonlyArray<Endpoint>
  readonly preference: NodePreference
  /** Rounds before giving up (at least 1 is made). */
  readonly maxDiscoverAttempts: number
  /** Pause between rounds. */
  readonly discoveryInterval: Duration.Input
  /** An endpoint that just failed: asked last in each round. */
  readonly failedEndpoint?: Endpoint | undefined
  /** Reads the members from one seed; should fail (not hang) when the seed does not answer. */
  readonly readGossip: (seed: Endpoint) => Effect.Effect<ReadonlyArray<MemberInfo>, unknown>
}

const sameEndpoint = (a: Endpoint, b: Endpoint | undefined): boolean =>
  b !== undefined && a.host === b.host && a.port === b.port

const describe = (cause: unknown): string => {
  if (typeof cause === "object" && cause !== null) {
    if ("message" in cause && typeof cause.message === "string" && cause.message.length > 0) return cause.message
    if ("_tag" in cause && typeof cause._tag === "string") return cause._tag
  }
  return String(cause)
}

const describeMembers = (members: ReadonlyArray<MemberInfo>): string =>
  members.length === 0
    ? "no members"
    : members.map((m) => `${formatEndpoint(m.endpoint)} ${m.state}${m.isAlive ? "" : " (dead)"}`).join(", ")

/**
 * Finds the endpoint to connect to by gossip (see the module documentation for the rules).
 *
 * @since 0.1.0
 * @category discovery
 */
export const discover = (options: DiscoverOptions): Effect.Effect<Endpoint, DiscoveryFailed> =>
  Effect.suspend(() => {
    const rounds = Math.max(1, Math.floor(options.maxDiscoverAttempts))
    if (options.seeds.length === 0) {
      return Effect.fail(new DiscoveryFailed({ reason: "No seed endpoints to ask for gossip", attempts: 0 }))
    }
    let round = 0
    // one round asks every seed once; it fails with the reason of its last miss
    const oneRound = Effect.gen(function*() {
      round++
      const shuffled = yield* Random.shuffle(options.seeds)
      const order = [
        ...shuffled.filter((s) => !sameEndpoint(s, options.failedEndpoint)),
        ...shuffled.filter((s) => sameEndpoint(s, options.failedEndpoint))
      ]
      let lastReason = "no gossip was read"
      for (const seed of order) {
        const result = yield* Effect.result(Effect.suspend(() => options.readGossip(seed)))
        if (result._tag === "Failure") {
          lastReason = `Failed to read gossip from ${formatEndpoint(seed)}: ${describe(result.failure)}`
          yield* Effect.logDebug(`effect-esdb discovery round ${round}: ${lastReason}`)
          continue
        }
        const [chosen] = yield* orderMembers(options.preference, result.success)
        if (chosen !== undefined) {
          yield* Effect.logDebug(
            `effect-esdb discovery round ${round}: ${formatEndpoint(seed)} reported ${describeMembers(result.success)}; ` +
              `chose ${formatEndpoint(chosen.endpoint)} (${chosen.state}) for preference ${options.preference}`
          )
          return chosen.endpoint
        }
        lastReason = `Gossip from ${formatEndpoint(seed)} listed no eligible member (${describeMembers(result.success)})`
        yield* Effect.logDebug(`effect-esdb discovery round ${round}: ${lastReason}`)
      }
      return yield* new DiscoveryFailed({ reason: lastReason, attempts: round })
    })
    // rounds are repeated by a Schedule: `discoveryInterval` apart, `maxDiscoverAttempts` in all
    const schedule = Schedule.spaced(options.discoveryInterval).pipe(Schedule.upTo({ times: rounds - 1 }))
    return Effect.retry(oneRound, { schedule })
  }).pipe(
    Effect.withSpan("effect-esdb.discover", {
      attributes: {
        "esdb.node_preference": options.preference,
        "esdb.seeds": options.seeds.map(formatEndpoint).join(",")
      }
    })
  )

/**
 * Errors of {@link readGossipOverGrpc}.
 *
 * @since 0.1.0
 * @category errors
 */
export type GossipReadError = EsdbError

/**
 * Calls `event_store.client.gossip.Gossip/Read` on one endpoint over its own short-lived grpc-js
 * client (no call credentials, like the official client), with a deadline of `timeoutMs`, and
 * closes the client afterwards, also when interrupted. Its failures go through the one classifier
 * (classifyError.ts): `DeadlineExceeded` on timeout, `ServiceUnavailable` when the node cannot be
 * reached, `TlsFailed` for a TLS mismatch, `GrpcError` otherwise.
 *
 * @since 0.1.0
 * @category discovery
 */
export const readGossipOverGrpc = (
  endpoint: Endpoint,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
  timeoutMs: number
): Effect.Effect<ReadonlyArray<MemberInfo>, GossipReadError> =>
  Effect.callback<ReadonlyArray<MemberInfo>, GossipReadError>((resume) => {
    const client = new GossipClient(formatEndpoint(endpoint), credentials, options)
    let done = false
    const call = client.read({}, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, info) => {
      done = true
      client.close()
      if (error !== null) resume(Effect.fail(classifyError(error)))
      else resume(Effect.succeed(gossipMembersFromClusterInfo(info)))
    })
    return Effect.sync(() => {
      if (!done) call.cancel()
      client.close()
    })
  }).pipe(
    Effect.withSpan("event_store.client.gossip.Gossip/Read", {
      kind: "client",
      attributes: {
        "rpc.system": "grpc",
        "rpc.service": "event_store.client.gossip.Gossip",
        "rpc.method": "Read",
        "server.address": endpoint.host,
        "server.port": endpoint.port
      }
    })
  )
