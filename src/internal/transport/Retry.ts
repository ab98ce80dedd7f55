/**
 * Whether a failed call may be tried again: the one place this is decided.
 *
 * - {@link isRetryable}: safe to resend for any operation (the node did not execute it); the
 *   transport's retry `Schedule` runs on it.
 * - {@link isTransient}: may succeed if tried again, but the node may have executed the request.
 * - {@link canRetryAppend}: an append (its event ids fixed) may be sent again.
 * - {@link canResume}: a read or subscription may be started again from its cursor.
 * - {@link canReconnect}: a persistent-subscription consumer may connect again.
 * - {@link needsReconnect}: the connection the call used must be replaced.
 *
 * A `NodeIsNotLeader` is followed (the connection moves to the leader the follower named, and the
 * call is retried, the read resumed) only on a connection that {@link followsLeader}: one that
 * discovers its node by gossip with `NodePreference=leader`, as the seed client
 * (esdbclient 1.1) reconnects. On any other connection (a single node address, or a preference
 * for followers, read-only replicas or any node) the node it chose is the one it talks to: the
 * caller gets the `NodeIsNotLeader` (with the leader's endpoint) at once, and the connection
 * stays where it is ({@link settle} marks such an error final: none of the predicates below
 * accepts it).
 *
 * @since 0.1.0
 */
import { GrpcError } from "../../errors/GrpcError.ts"
import type { ConnectionSettings } from "../ConnectionString.ts"
import type { CallError } from "./CallError.ts"
import { provesNotExecuted } from "./grpcStatus.ts"

/**
 * True when a connection follows the leader a follower names (`NodeIsNotLeader`): it discovers
 * its node by gossip (several hosts, or a `+discover` scheme) and prefers the leader. A single
 * node address is used as given; a follower, read-only-replica or random preference keeps its
 * member (the seed: "methods that need the leader raise NodeIsNotLeader").
 *
 * @since 0.1.0
 * @category predicates
 */
export const followsLeader = (settings: Pick<ConnectionSettings, "discover" | "nodePreference">): boolean =>
  settings.discover && settings.nodePreference === "leader"

// the failures that end the operation whatever their tag says (see `settle`)
const finals = new WeakSet<object>()

/**
 * Marks a `NodeIsNotLeader` final when the connection does not {@link followsLeader}: it is then
 * neither retried, resumed, reconnected after, nor does it move the connection. Returns the error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const settle = <E extends { readonly _tag: string }>(settings: Pick<ConnectionSettings, "discover" | "nodePreference">, error: E): E => {
  if (error._tag === "NodeIsNotLeader" && !followsLeader(settings)) finals.add(error)
  return error
}

/**
 * True for a failure {@link settle} marked final.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFinal = (error: { readonly _tag: string }): boolean => finals.has(error)

/**
 * True when sending the same request again is safe for **any** operation, including
 * non-idempotent ones (tombstone, persistent-subscription create, projection create):
 * the failure proves the node did not execute it.
 *
 * - `NodeIsNotLeader`: true — the follower refused the call before executing it — unless
 *   {@link settle} marked it final (the connection does not follow the leader). Retry only
 *   after reconnecting to the leader (its endpoint is in `leader`, else rediscover); resending
 *   on the same connection fails the same way.
 * - `ServiceUnavailable`: true unless its `cause` is a gRPC status (a `GrpcError`) that does
 *   not prove non-execution — a connection dropped mid-call, RST_STREAM, INTERNAL, DATA_LOSS
 *   or UNKNOWN remaps — where the node may already have committed the write. ServiceUnavailable
 *   from refusals (not ready, too busy), failed connects, and errors thrown before a call
 *   started are retryable.
 * - Everything else, notably `DeadlineExceeded`, is false: see {@link isTransient}.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = (error: CallError): boolean => {
  if (isFinal(error)) return false
  switch (error._tag) {
    case "NodeIsNotLeader":
      return true
    case "ServiceUnavailable": {
      const cause = error.cause
      return cause instanceof GrpcError ? provesNotExecuted(cause.code, cause.details) : true
    }
    default:
      return false
  }
}

/**
 * True when trying the call again may succeed: `ServiceUnavailable`, `NodeIsNotLeader` and
 * `DeadlineExceeded`. Unlike {@link isRetryable} this includes failures after which the node
 * may already have executed the request, so retry on it only for idempotent operations
 * (reads, subscriptions from a checkpoint, appends whose events keep their ids — the node
 * answers a repeated append with the original result).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTransient = (error: CallError): boolean =>
  !isFinal(error) && (error._tag === "ServiceUnavailable" || error._tag === "NodeIsNotLeader" || error._tag === "DeadlineExceeded")

/**
 * True when an append may be sent again: whenever the node was unreachable, the connection
 * dropped (also mid-call, when the node may already have written it) or the node was not the
 * leader. An append is safe to repeat because its events keep their ids: a node that already
 * wrote them answers the repeat with the original result and writes nothing (PROTOCOL.md,
 * idempotency by event id); a new leader that lacks them writes them once. This is how appends
 * fail over to a new leader. Never for a refusal (WrongCurrentVersion, StreamDeleted,
 * AccessDenied, NotFound, ...), nor DeadlineExceeded (the operation's deadline covers its
 * retries), nor a discovery failure (discovery already made its rounds).
 *
 * @since 0.1.0
 * @category predicates
 */
export const canRetryAppend = (error: CallError): boolean =>
  !isFinal(error) && (error._tag === "ServiceUnavailable" || error._tag === "NodeIsNotLeader")

const resumableTags: ReadonlySet<string> = new Set([
  "ServiceUnavailable",
  "NodeIsNotLeader",
  "DiscoveryFailed",
  "LeaderNotFound",
  "FollowerNotFound",
  "ReadOnlyReplicaNotFound",
  "DeadlineExceeded",
  "SubscriptionDropped"
])

/**
 * True for the failures after which a read or subscription is started again from its cursor, and
 * a persistent-subscription consumer connects again: the node could not be reached or discovered,
 * or had no member of the preferred kind (LeaderNotFound, FollowerNotFound, ReadOnlyReplicaNotFound:
 * an election or an outage may end), the connection dropped mid-call (or the node ended a
 * subscription: a subscription never ends by itself), the node is not the leader, a deadline passed, or the node dropped the consumer (its
 * group changed, or the node is shutting down). Reads change nothing on the node, so repeating one
 * that may have run is safe. Everything else (AccessDenied, StreamDeleted, NotFound,
 * SubscriptionNotFound, ConnectionClosed, …) ends the Stream with its error.
 *
 * It takes any tagged failure: the consumers of persistent subscriptions ask it about their own
 * errors (SubscriptionDropped) too.
 *
 * @since 0.1.0
 * @category predicates
 */
export const canResume = (error: { readonly _tag: string }): boolean => resumableTags.has(error._tag) && !isFinal(error)

/**
 * True when a persistent-subscription consumer connects again after the failure: the same
 * failures as {@link canResume} (a consumer follows the rules of catch-up subscriptions).
 *
 * @since 0.1.0
 * @category predicates
 */
export const canReconnect = (error: { readonly _tag: string }): boolean => canResume(error)

/**
 * True when the connection a call failed on must be replaced before the next call: the node was
 * unavailable (or the connection dropped), or it is not the leader.
 *
 * @since 0.1.0
 * @category predicates
 */
export const needsReconnect = (error: CallError): boolean =>
  !isFinal(error) && (error._tag === "ServiceUnavailable" || error._tag === "NodeIsNotLeader")
