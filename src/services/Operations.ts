/**
 * The Operations API: a node's maintenance: scavenges (start, stop), shutdown, index merge,
 * leader resignation and priority, restarting the persistent-subscription subsystem. Every call
 * needs an admin or an operator (`$admins`, `$ops`).
 *
 * This module holds the interface and its service key, and `make` (internal: the layer is
 * `EventStoreDB.layer`); the operations live under `src/internal/operations/`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Admin from "../internal/operations/admin.ts"
import type { OperationsError, StopScavengeError } from "../internal/operations/errors.ts"
import * as Scavenge from "../internal/operations/scavenge.ts"
import type { CallOptions } from "../internal/transport/Options.ts"
import type { TransportShape } from "../internal/transport/Transport.ts"

export type { OperationsError, StopScavengeError } from "../internal/operations/errors.ts"
export type { ScavengeResult, StartScavengeOptions } from "../internal/operations/scavenge.ts"

/**
 * The Operations API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Operations {
  /** Starts a scavenge, or answers the running one's id (`result: "InProgress"`). */
  readonly startScavenge: (options?: Scavenge.StartScavengeOptions) => Effect.Effect<Scavenge.ScavengeResult, OperationsError>
  /** Stops the running scavenge (by id, or `"current"`); answers once it has stopped. ScavengeNotFound when it is not running. */
  readonly stopScavenge: (scavengeId: string, options?: CallOptions) => Effect.Effect<Scavenge.ScavengeResult, StopScavengeError>
  /** Stops the node (it answers first). */
  readonly shutdown: (options?: CallOptions) => Effect.Effect<void, OperationsError>
  /** Merges the node's index tables. */
  readonly mergeIndexes: (options?: CallOptions) => Effect.Effect<void, OperationsError>
  /** Has the leader resign (a cluster elects another). */
  readonly resignNode: (options?: CallOptions) => Effect.Effect<void, OperationsError>
  /** Sets the node's priority in elections. */
  readonly setNodePriority: (priority: number, options?: CallOptions) => Effect.Effect<void, OperationsError>
  /** Restarts the persistent-subscription subsystem (groups are read back from their configuration). */
  readonly restartPersistentSubscriptions: (options?: CallOptions) => Effect.Effect<void, OperationsError>
}

/**
 * The Operations service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Operations } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const operations = yield* Operations.Operations
 *   const { scavengeId } = yield* operations.startScavenge({ threads: 2 })
 *   return yield* operations.stopScavenge(scavengeId).pipe(
 *     Effect.catchTag("ScavengeNotFound", () => Effect.succeed({ scavengeId, result: "Stopped" as const }))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Operations: Context.Service<Operations, Operations> = Context.Service<Operations>("effect-esdb/Operations")

/**
 * Builds the Operations service on a transport. `EventStoreDB.layer` makes one per connection.
 *
 * @internal
 */
export const make = (transport: TransportShape): Operations =>
  Operations.of({
    startScavenge: (options) => Scavenge.startScavenge(transport, options),
    stopScavenge: (scavengeId, options) => Scavenge.stopScavenge(transport, scavengeId, options),
    shutdown: (options) => Admin.shutdown(transport, options),
    mergeIndexes: (options) => Admin.mergeIndexes(transport, options),
    resignNode: (options) => Admin.resignNode(transport, options),
    setNodePriority: (priority, options) => Admin.setNodePriority(transport, priority, options),
    restartPersistentSubscriptions: (options) => Admin.restartPersistentSubscriptions(transport, options)
  })
