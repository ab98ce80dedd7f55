/**
 * `event_store.client.operations.Operations`, as a single real node answers (PROTOCOL.md §6):
 *
 * - StartScavenge → `Started` with a new id, or `InProgress` with the running one's
 *   ({@link Scavenges}); StopScavenge of that id or "current" → `Stopped` once it has stopped,
 *   else NOT_FOUND `scavenge-not-found` "Scavenge id was invalid." with the *running* id (or "")
 *   in `scavenge-id`. Without `options`: UNKNOWN (`request.Options` dereferenced).
 * - Shutdown → Empty, then the node stops (`RequestShutdown`): the reply goes out first.
 * - MergeIndexes → Empty (the node's index is in memory: nothing to merge).
 * - ResignNode → Empty: a single node that resigns is elected leader again at once; a cluster
 *   member's leader steps down and the others elect another (src/server/cluster).
 * - SetNodePriority → Empty; in a cluster the member's priority in its next elections.
 * - RestartPersistentSubscriptions → Empty, the groups read back from their configuration.
 *
 * Access: admins or ops, by role (`$admins`, `$ops`) or name (`admin`, `ops`)
 * (`LegacyPolicySelectorFactory.cs`: OperationsOrAdmins for scavenge, shutdown, merge, resign,
 * priority and Subscriptions.Restart). Sources (kurrent-io/KurrentDB): `G/Operations.Admin.cs`,
 * `G/Operations.Scavenge.cs`, `G/RpcExceptions.cs` (`ScavengeNotFound`), with `G/` =
 * `src/KurrentDB.Core/Services/Transport/Grpc/`.
 *
 * @since 0.1.0
 */
import { Code } from "../../generated/code.ts"
import {
  OperationsService,
  type ScavengeResp,
  ScavengeResp_ScavengeResult,
  type SetNodePriorityReq,
  type StartScavengeReq,
  type StopScavengeReq
} from "../../generated/operations.ts"
import type { Empty } from "../../generated/shared.ts"
import { Access, type Auth, type Principal } from "../Auth.ts"
import { rpcFailure, type RpcFailure, unhandled } from "../errors.ts"
import type { ScavengeAnswer, Scavenges } from "../operations/Scavenges.ts"
import type { PersistentGroups } from "../persistent/PersistentGroups.ts"
import type { Store } from "../storage/Store.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"

/**
 * The methods served: the whole Operations service.
 *
 * @since 0.1.0
 * @category constants
 */
export const OperationsServiceDefinition: ServiceDefinition = OperationsService

/**
 * What the handler needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperationsContext {
  readonly store: Store
  readonly auth: Auth
  readonly scavenges: Scavenges
  readonly groups: PersistentGroups
  /** Stops the node (after the Shutdown reply is sent). */
  readonly shutdown: () => void
  /** ResignNode on a cluster member (src/server/cluster): the leader steps down and another is elected. */
  readonly resign?: (() => void) | undefined
  /** SetNodePriority on a cluster member: the priority its elections weigh. */
  readonly setPriority?: ((priority: number) => void) | undefined
}

/**
 * `scavenge-not-found`: NOT_FOUND "Scavenge id was invalid." with `scavenge-id` (the running
 * scavenge's id, or empty).
 *
 * @since 0.1.0
 * @category constructors
 */
export const scavengeNotFound = (currentId: string | undefined): RpcFailure =>
  rpcFailure(Code.NOT_FOUND, "Scavenge id was invalid.", { exception: "scavenge-not-found", "scavenge-id": currentId ?? "" })

const answerOf = (answer: ScavengeAnswer): ScavengeResp | RpcFailure => {
  switch (answer._tag) {
    case "Started":
      return { scavengeId: answer.scavengeId, scavengeResult: ScavengeResp_ScavengeResult.Started }
    case "InProgress":
      return { scavengeId: answer.scavengeId, scavengeResult: ScavengeResp_ScavengeResult.InProgress }
    case "Stopped":
      return { scavengeId: answer.scavengeId, scavengeResult: ScavengeResp_ScavengeResult.Stopped }
    case "NotFound":
      return scavengeNotFound(answer.currentId)
  }
}

/**
 * The Operations service implementation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeOperationsHandler = (ctx: OperationsContext): ServiceImplementation => {
  const { auth, scavenges } = ctx

  // $admins or $ops, or the users admin and ops themselves (LegacyPolicySelectorFactory.cs)
  const operatorFor = (call: ServerCall): Principal | RpcFailure =>
    auth.authorize(call.metadata, Access.roles("$admins", "$ops", "admin", "ops"))
  const isFailure = (p: Principal | RpcFailure): p is RpcFailure => p instanceof Error

  const reply = (callback: UnaryCallback<ScavengeResp>, answer: ScavengeAnswer) => {
    const resp = answerOf(answer)
    if (resp instanceof Error) return callback(resp)
    ctx.store.whenDurable((error) => (error === undefined ? callback(null, resp) : callback(unhandled())))
  }

  const empty = (run: () => void) => (call: ServerCall<Empty, Empty>, callback: UnaryCallback<Empty>) => {
    const principal = operatorFor(call)
    if (isFailure(principal)) return callback(principal)
    try {
      run()
    } catch {
      return callback(unhandled())
    }
    callback(null, {})
  }

  return {
    startScavenge: (call: ServerCall<StartScavengeReq, ScavengeResp>, callback: UnaryCallback<ScavengeResp>) => {
      const principal = operatorFor(call)
      if (isFailure(principal)) return callback(principal)
      const options = call.request.options
      if (options === undefined) return callback(unhandled())
      let answer: ScavengeAnswer
      try {
        answer = scavenges.start(options.threadCount, options.startFromChunk)
      } catch {
        // the log failed: nothing more is written
        return callback(unhandled())
      }
      reply(callback, answer)
    },
    stopScavenge: (call: ServerCall<StopScavengeReq, ScavengeResp>, callback: UnaryCallback<ScavengeResp>) => {
      const principal = operatorFor(call)
      if (isFailure(principal)) return callback(principal)
      const options = call.request.options
      if (options === undefined) return callback(unhandled())
      const answer = scavenges.stop(options.scavengeId)
      if (answer instanceof Promise) answer.then((a) => reply(callback, a), () => callback(unhandled()))
      else reply(callback, answer)
    },
    shutdown: (call: ServerCall<Empty, Empty>, callback: UnaryCallback<Empty>) => {
      const principal = operatorFor(call)
      if (isFailure(principal)) return callback(principal)
      callback(null, {})
      // the reply is queued on the call; the node's graceful stop lets it go out
      setImmediate(ctx.shutdown)
    },
    mergeIndexes: empty(() => {}),
    resignNode: empty(() => ctx.resign?.()),
    setNodePriority: (call: ServerCall<SetNodePriorityReq, Empty>, callback: UnaryCallback<Empty>) => {
      const principal = operatorFor(call)
      if (isFailure(principal)) return callback(principal)
      ctx.setPriority?.(call.request.priority)
      callback(null, {})
    },
    restartPersistentSubscriptions: empty(() => ctx.groups.load())
  }
}
