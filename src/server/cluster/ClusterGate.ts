/**
 * What a cluster member does with a call before its own handler sees it, by its role, as a real
 * node's `ClusterVNodeController` does (PROTOCOL.md §3; kurrent-io/KurrentDB
 * `src/KurrentDB.Core/Services/VNode/ClusterVNodeController.cs`, `G/RpcExceptions.cs`
 * `TryHandleNotHandled`, `G/` = `src/KurrentDB.Core/Services/Transport/Grpc/`):
 *
 * - the leader serves everything;
 * - a follower serves reads and catch-up subscriptions, unless `requires-leader` is true (then
 *   NOT_FOUND `not-leader` with the leader's endpoint in `leader-endpoint-host`/`-port`); it
 *   forwards Append, BatchAppend, Delete and Tombstone to the leader unless `requires-leader` is
 *   true (`ForwardRequest`, else `DenyRequestBecauseNotLeader`);
 * - persistent-subscription operations and the v2 appends always need the leader (not-leader);
 *   GetInfo and List answer UNAVAILABLE "Server Is Not Ready" and RestartSubsystem
 *   `persistent-subscription-failed`, as where the persistent subscription service does not run
 *   (`PersistentSubscriptionService.cs` runs on BecomeLeader only);
 * - a read-only replica refuses every write with not-leader and the leader's endpoint, whatever
 *   the header (`DenyRequestBecauseReadOnly`: `NotHandledReason.IsReadOnly` with the leader info);
 * - with no leader known (an election, a member cut off: Unknown, ReadOnlyLeaderless) writes
 *   answer UNAVAILABLE "Server Is Not Ready", and so does a PreLeader before its epoch is
 *   committed: the controller denies `WriteRequestMessage`s as not ready in every state but Leader,
 *   ResigningLeader, PreReplica, CatchingUp, Clone, Follower, ReadOnlyReplica and
 *   PreReadOnlyReplica, and serves reads in all of these and in PreLeader, Unknown and
 *   ReadOnlyLeaderless (`DenyRequestBecauseNotReady`).
 *
 * Projections and Users commands, which write, are forwarded to the leader (this node's choice:
 * their services run on the leader; a real node sends their writes through the leader too). A
 * member whose client links are delayed runs each call that much later (on the cluster's clock,
 * ClusterClock.ts).
 *
 * @since 0.1.0
 */
import { Code } from "../../generated/code.ts"
import { notLeader, persistentSubscriptionFailed, rpcFailure, type RpcFailure } from "../errors.ts"
import { forwardBatchAppend } from "./ForwardedBatchAppend.ts"
import type { Handler, ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"

/**
 * What the gate knows of the member and its leader when a call arrives.
 *
 * @since 0.1.0
 * @category models
 */
export interface GateView {
  /** Leader: serves all; PreLeader: not ready for writes; Follower; ReadOnly; Unknown: no leader known. */
  readonly role: "Leader" | "PreLeader" | "Follower" | "ReadOnly" | "Unknown"
  /** The leader's advertised endpoint, and its handlers by method path when this member can reach it. */
  readonly leader: {
    readonly host: string
    readonly port: number
    readonly handler: ((path: string) => Handler | undefined) | undefined
    /** Delay of the link to the leader, ms (a forwarded call waits that long). */
    readonly delayMs: number
    /** Is the leader Leader (not PreLeader: its writes not ready yet)? */
    readonly ready: boolean
    /** A streaming call forwarded to the leader: `gone` is called if the leader goes before it ends. */
    readonly adopt: (call: { readonly closed: boolean; gone(): void }) => void
  } | undefined
  /** How long a forwarded write waits for a leader that went away (ForwardedBatchAppend.ts). */
  readonly forwardTimeoutMs: number
  /** Delay of the member's client links, ms (0: none). */
  readonly clientDelayMs: number
}

type Policy = "read" | "write" | "leader" | "psInfo" | "psRestart" | "forward" | "local"

const S = "/event_store.client.streams.Streams/"
const BATCH_APPEND = S + "BatchAppend"
const P = "/event_store.client.persistent_subscriptions.PersistentSubscriptions/"

const policyOf = (path: string): Policy => {
  if (path === S + "Read") return "read"
  if (path === S + "Append" || path === S + "BatchAppend" || path === S + "Delete" || path === S + "Tombstone") return "write"
  if (path.startsWith("/kurrentdb.protocol.v2.streams.")) return "leader"
  if (path.startsWith(P)) {
    if (path === P + "GetInfo" || path === P + "List") return "psInfo"
    if (path === P + "RestartSubsystem") return "psRestart"
    return "leader"
  }
  if (path.startsWith("/event_store.client.projections.") || path.startsWith("/event_store.client.users.")) return "forward"
  return "local"
}

/** `bool.TryParse` of the `requires-leader` header: "true"/"false" in any case, else false. */
const requiresLeader = (call: ServerCall): boolean => {
  const value = call.metadata.get("requires-leader")[0]
  return typeof value === "string" && value.trim().toLowerCase() === "true"
}

/**
 * UNAVAILABLE "Server Is Not Ready" (`RpcExceptions.ServerNotReady`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverNotReady = (): RpcFailure => rpcFailure(Code.UNAVAILABLE, "Server Is Not Ready")

/** Answers a call with a failure, unary or streaming. */
const refuse = (call: ServerCall, callback: UnaryCallback | undefined, failure: RpcFailure): void => {
  if (callback !== undefined) return callback(failure)
  call.sendStatus({ code: failure.code, details: failure.details, metadata: failure.metadata })
}

/**
 * Wraps a service's handlers with the member's gate.
 *
 * @since 0.1.0
 * @category constructors
 */
export const gateService = (
  definition: ServiceDefinition,
  implementation: ServiceImplementation,
  view: () => GateView,
  after: (ms: number, f: () => void) => void
): ServiceImplementation => {
  const gated: Record<string, Handler> = {}
  for (const name of Object.keys(implementation)) {
    const own = implementation[name]!
    const path = definition[name]?.path
    if (path === undefined) {
      gated[name] = own
      continue
    }
    const policy = policyOf(path)
    const decide = (call: ServerCall, callback: UnaryCallback | undefined): void => {
      const v = view()
      const run = (h: Handler) => (h as (c: ServerCall, cb: UnaryCallback | undefined) => void)(call, callback)
      if (policy === "local" || v.role === "Leader") return run(own)
      const leader = v.leader
      const toLeader = () => leader === undefined ? serverNotReady() : notLeader(leader.host, leader.port)
      const forward = () => {
        const h = leader?.handler?.(path)
        if (h === undefined) return refuse(call, callback, serverNotReady())
        if (callback === undefined) {
          // a streaming call: ended "not ready" if the leader goes before it ends
          leader!.adopt({
            get closed() {
              return call.closed
            },
            gone: () => call.sendStatus({ code: Code.UNAVAILABLE, details: "Server Is Not Ready" })
          })
        }
        if (leader!.delayMs <= 0) return run(h)
        after(leader!.delayMs, () => {
          if (!call.closed) run(h)
        })
      }
      if (v.role === "PreLeader") {
        return policy === "read" ? run(own) : refuse(call, callback, serverNotReady())
      }
      if (v.role === "ReadOnly") {
        if (policy === "read") return requiresLeader(call) ? refuse(call, callback, toLeader()) : run(own)
        if (policy === "forward") return forward()
        if (policy === "psInfo") return refuse(call, callback, serverNotReady())
        if (policy === "psRestart") return refuse(call, callback, persistentSubscriptionFailed("", "", "Not leader"))
        return refuse(call, callback, toLeader())
      }
      switch (policy) {
        case "read":
          return requiresLeader(call) ? refuse(call, callback, toLeader()) : run(own)
        case "write":
          if (requiresLeader(call)) return refuse(call, callback, toLeader())
          if (path === BATCH_APPEND) {
            // the client's call stays here; each write goes to the leader of the moment
            return forwardBatchAppend(call, () => {
              const l = view().leader
              return {
                handler: l !== undefined && l.ready ? l.handler?.(path) : undefined,
                adopt: (leg) => l?.adopt(leg),
                delayMs: l?.delayMs ?? 0
              }
            }, after, v.forwardTimeoutMs)
          }
          return forward()
        case "leader":
          return refuse(call, callback, toLeader())
        case "psInfo":
          return refuse(call, callback, serverNotReady())
        case "psRestart":
          return refuse(call, callback, persistentSubscriptionFailed("", "", "Not leader"))
        case "forward":
          return forward()
      }
    }
    gated[name] = ((call: ServerCall, callback?: UnaryCallback) => {
      const delay = view().clientDelayMs
      if (delay <= 0) return decide(call, callback)
      after(delay, () => {
        if (!call.closed) decide(call, callback)
      })
    }) as Handler
  }
  return gated
}
