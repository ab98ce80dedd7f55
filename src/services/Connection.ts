/**
 * The Connection API: what a user can do with the connection itself, beside the operations of the
 * other services: replace it (`reconnect`).
 *
 * The connection's internals (its calls, retry and resume machinery) are not part of the public
 * API: every operation goes through `Streams`, `PersistentSubscriptions` and `Projections`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { ConnectionClosed } from "../errors/ConnectionClosed.ts"
import type { DiscoveryFailed } from "../errors/DiscoveryFailed.ts"
import type { FollowerNotFound } from "../errors/FollowerNotFound.ts"
import type { LeaderNotFound } from "../errors/LeaderNotFound.ts"
import type { ReadOnlyReplicaNotFound } from "../errors/ReadOnlyReplicaNotFound.ts"
import type { ServiceUnavailable } from "../errors/ServiceUnavailable.ts"
import type { TransportShape } from "../internal/transport/Transport.ts"

/**
 * Failures of {@link Connection.reconnect}: no node could be discovered, the cluster has no member
 * of the preferred kind (NodePreference), the node could not be reached, or the layer's scope has
 * closed.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReconnectError =
  | DiscoveryFailed
  | LeaderNotFound
  | FollowerNotFound
  | ReadOnlyReplicaNotFound
  | ConnectionClosed
  | ServiceUnavailable

/**
 * The connection, as a user sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /**
   * Closes the current connection and connects again (rediscovering the node for cluster
   * strings), waiting until connected; the seed's `client.reconnect()`. Fibers asking while a
   * reconnect runs share it: one reconnect however many ask at once. Calls running on the old
   * connection fail with a retryable `ServiceUnavailable` (retried or resumed as usual).
   */
  readonly reconnect: Effect.Effect<void, ReconnectError>
}

/**
 * The Connection service, provided by `EventStoreDB.layer`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Connection } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const connection = yield* Connection.Connection
 *   yield* connection.reconnect
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Connection: Context.Service<Connection, Connection> = Context.Service<Connection>("effect-esdb/Connection")

/**
 * The Connection service of a transport: `EventStoreDB.layer` makes one per connection.
 *
 * @internal
 */
export const make = (transport: TransportShape): Connection => Connection.of({ reconnect: transport.reconnect })
