/**
 * Gossip discovery: ask seed nodes for the cluster's members and pick one by node preference.
 *
 * - Up to `maxDiscoverAttempts` rounds, `discoveryInterval` apart, repeated by a `Schedule` (so
 *   `TestClock` drives it in tests). No pause follows the last round.
 * - Each round asks the seeds in random order, a previously failed endpoint last, until one
 *   answers with a member of the preferred kind. With `resolve` (the `+discover` schemes) each
 *   seed's host is first resolved to its addresses (DNS A/AAAA records, or the user's resolver),
 *   every address a seed on the seed's port; resolution is repeated every round.
 * - One gossip read may take `gossipTimeout` (on the Clock); past it that seed counts as failed.
 * - Candidates are alive members: `leader` takes a Leader; `follower` a Follower;
 *   `readonlyreplica` ranks ReadOnlyReplica > PreReadOnlyReplica > ReadOnlyLeaderless; `random`
 *   any of Follower, Leader, ReadOnlyReplica, PreReadOnlyReplica, ReadOnlyLeaderless. Among equal
 *   candidates the choice is random (the `Random` service). There is no fallback to another kind:
 *   a `follower` preference never silently gets the leader.
 * - A round where gossip was read but listed no member of the preferred kind fails with
 *   {@link LeaderNotFound}, {@link FollowerNotFound} or {@link ReadOnlyReplicaNotFound}; a round where
 *   no seed answered (or `random` found no eligible member) fails with {@link DiscoveryFailed}. Both
 *   use up a round (an election or a member catching up is transitional); after the last round its
 *   failure is the result.
 *
 * The gossip call is injected (`readGossip`), so the algorithm is unit-testable;
 * {@link readGossipOverGrpc} is the real one.
 *
 * @since 0.1.0
 */
import * as grpc from "@grpc/grpc-js"
import * as dns from "node:dns"
import * as net from "node:net"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import { DiscoveryFailed } from "../../errors/DiscoveryFailed.ts"
import { FollowerNotFound } from "../../errors/FollowerNotFound.ts"
import { LeaderNotFound } from "../../errors/LeaderNotFound.ts"
import { ReadOnlyReplicaNotFound } from "../../errors/ReadOnlyReplicaNotFound.ts"
import { type ClusterInfo, GossipClient, MemberInfo_VNodeState } from "../../generated/gossip.ts"
import { type Endpoint, formatEndpoint, type NodePreference } from "../ConnectionString.ts"
import { classifyError, type EsdbError } from "./classifyError.ts"

/**
 * The failures of discovery: no seed answered ({@link DiscoveryFailed}), or the cluster has no
 * member of the preferred kind.
 *
 * @since 0.1.0
 * @category errors
 */
export type DiscoveryError = DiscoveryFailed | LeaderNotFound | FollowerNotFound | ReadOnlyReplicaNotFound

/**
 * Resolves a host name to its addresses (for the `+discover` schemes). The default,
 * {@link resolveHostByDns}, asks the system resolver (A and AAAA records, `/etc/hosts`); replace
 * it with the connection option `resolveHost` (tests serve several loopback addresses through it).
 *
 * @since 0.1.0
 * @category models
 */
export type ResolveHost = (host: string) => Effect.Effect<ReadonlyArray<string>, unknown>

/**
 * The system resolver (`dns.lookup` with `all: true`): every address of the host; an IP address
 * resolves to itself.
 *
 * @since 0.1.0
 * @category discovery
 */
export const resolveHostByDns: ResolveHost = (host) =>
  net.isIP(host) !== 0 ? Effect.succeed([host]) : Effect.tryPromise({
    try: () => dns.promises.lookup(host, { all: true, verbatim: true }),
    catch: (cause) => cause
  }).pipe(Effect.map((addresses) => addresses.map((a) => a.address)))

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
 * Whether a member serves clients: alive, and a Follower, Leader, ReadOnlyReplica,
 * PreReadOnlyReplica or ReadOnlyLeaderless.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isEligible = (member: MemberInfo): boolean => member.isAlive && eligibleStates.has(member.state)

/** The states a preference accepts, best first (`random`: any eligible state, all equal). */
const preferredStates = (preference: NodePreference): ReadonlyArray<VNodeState> | undefined => {
  switch (preference) {
    case "leader":
      return ["Leader"]
    case "follower":
      return ["Follower"]
    case "readonlyreplica":
      return ["ReadOnlyReplica", "PreReadOnlyReplica", "ReadOnlyLeaderless"]
    case "random":
      return undefined
  }
}

/**
 * The candidates of a preference among the members, best first: alive members of the preferred
 * kind, shuffled (with the `Random` service) and then stable-sorted by rank. Empty when the
 * cluster has none of that kind (no fallback to another kind).
 *
 * @since 0.1.0
 * @category selection
 */
export const orderMembers = (
  preference: NodePreference,
  members: ReadonlyArray<MemberInfo>
): Effect.Effect<Array<MemberInfo>> => {
  const preferred = preferredStates(preference)
  const candidates = members.filter((m) =>
    isEligible(m) && (preferred === undefined || preferred.includes(m.state))
  )
  return Effect.map(Random.shuffle(candidates), (shuffled) => {
    if (preferred === undefined) return shuffled
    // Array.prototype.sort is stable
    return shuffled.sort((a, b) => preferred.indexOf(a.state) - preferred.indexOf(b.state))
  })
}

/**
 * The failure when gossip listed no member of the preferred kind: {@link LeaderNotFound},
 * {@link FollowerNotFound}, {@link ReadOnlyReplicaNotFound}, or for `random` a
 * {@link DiscoveryFailed} (no eligible member at all).
 *
 * @since 0.1.0
 * @category errors
 */
export const notFound = (
  preference: NodePreference,
  members: ReadonlyArray<MemberInfo>,
  attempts: number,
  seed: Endpoint
): DiscoveryError => {
  const listed = members.map(describeMember)
  switch (preference) {
    case "leader":
      return new LeaderNotFound({ attempts, members: listed })
    case "follower":
      return new FollowerNotFound({ attempts, members: listed })
    case "readonlyreplica":
      return new ReadOnlyReplicaNotFound({ attempts, members: listed })
    case "random":
      return new DiscoveryFailed({
        reason: `Gossip from ${formatEndpoint(seed)} listed no eligible member (${describeMembers(members)})`,
        attempts
      })
  }
}

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
  /** How long one gossip read may take (on the Clock); none when absent. */
  readonly gossipTimeout?: Duration.Input | undefined
  /** An endpoint that just failed: asked last in each round. */
  readonly failedEndpoint?: Endpoint | undefined
  /** Resolves each seed's host to addresses every round (the `+discover` schemes). */
  readonly resolve?: ResolveHost | undefined
  /** Reads the members from one seed; should fail (not hang) when the seed does not answer. */
  readonly readGossip: (seed: Seed) => Effect.Effect<ReadonlyArray<MemberInfo>, unknown>
}

/**
 * A seed asked for gossip. A seed resolved from a name (`+discover`) keeps that name as its
 * `serverName`: over TLS the node's certificate is checked against it (as the official clients,
 * which dial the name, do), not against the address.
 *
 * @since 0.1.0
 * @category models
 */
export interface Seed extends Endpoint {
  readonly serverName?: string | undefined
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

const describeMember = (m: MemberInfo): string => `${formatEndpoint(m.endpoint)} ${m.state}${m.isAlive ? "" : " (dead)"}`

const describeMembers = (members: ReadonlyArray<MemberInfo>): string =>
  members.length === 0 ? "no members" : members.map(describeMember).join(", ")

/**
 * Finds the endpoint to connect to by gossip (see the module documentation for the rules).
 *
 * @since 0.1.0
 * @category discovery
 */
export const discover = (options: DiscoverOptions): Effect.Effect<Endpoint, DiscoveryError> =>
  Effect.suspend(() => {
    const rounds = Math.max(1, Math.floor(options.maxDiscoverAttempts))
    if (options.seeds.length === 0) {
      return Effect.fail(new DiscoveryFailed({ reason: "No seed endpoints to ask for gossip", attempts: 0 }))
    }
    const gossipTimeout = options.gossipTimeout === undefined ? undefined : Duration.fromInputUnsafe(options.gossipTimeout)
    const read = (seed: Endpoint) => {
      const once = Effect.suspend(() => options.readGossip(seed))
      return gossipTimeout === undefined ? once : once.pipe(Effect.timeoutOrElse({
        duration: gossipTimeout,
        orElse: () => Effect.fail(new Error(`no answer within the gossip timeout (${Duration.toMillis(gossipTimeout)} ms)`))
      }))
    }
    // the seeds of one round: with `resolve`, every address of every seed's host
    const seedsOfRound = (): Effect.Effect<{ seeds: Array<Seed>; reason: string }> => {
      const resolve = options.resolve
      if (resolve === undefined) return Effect.succeed({ seeds: [...options.seeds], reason: "no gossip was read" })
      return Effect.map(
        Effect.forEach(options.seeds, (seed) =>
          Effect.result(Effect.suspend(() => resolve(seed.host))).pipe(Effect.map((result) => ({ seed, result })))),
        (resolved) => {
          const seeds: Array<Seed> = []
          let reason = "no gossip was read"
          for (const { result, seed } of resolved) {
            if (result._tag === "Failure") {
              reason = `Failed to resolve ${formatEndpoint(seed)}: ${describe(result.failure)}`
            } else if (result.success.length === 0) {
              reason = `${formatEndpoint(seed)} resolved to no address`
            } else {
              for (const host of result.success) seeds.push({ host, port: seed.port, serverName: seed.host })
            }
          }
          return { seeds, reason }
        }
      )
    }
    let round = 0
    // one round asks every seed once; it fails with a NotFound when a seed answered, else with
    // the reason of its last miss
    const oneRound: Effect.Effect<Endpoint, DiscoveryError> = Effect.gen(function*() {
      round++
      const { reason, seeds } = yield* seedsOfRound()
      const shuffled = yield* Random.shuffle(seeds)
      const order = [
        ...shuffled.filter((s) => !sameEndpoint(s, options.failedEndpoint)),
        ...shuffled.filter((s) => sameEndpoint(s, options.failedEndpoint))
      ]
      let lastReason = reason
      let absent: DiscoveryError | undefined
      for (const seed of order) {
        const result = yield* Effect.result(read(seed))
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
        absent = notFound(options.preference, result.success, round, seed)
        yield* Effect.logDebug(`effect-esdb discovery round ${round}: ${absent.message}`)
      }
      return yield* (absent ?? new DiscoveryFailed({ reason: lastReason, attempts: round }))
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
    // grpc-js takes deadlines as wall-clock instants (its own timers), hence Date.now(); on the
    // Clock, the gossip timeout `discover` puts around this read (`timeoutOrElse`) bounds the wait
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
