/**
 * The Gossip API: the cluster's members as the node the connection uses sees them.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { ClusterMember } from "../domain/ClusterMember.ts"
import * as ClusterInfo from "../internal/gossip/clusterInfo.ts"
import type { CallOptions } from "../internal/transport/Options.ts"
import type { TransportError } from "../internal/transport/TransportError.ts"
import type { TransportShape } from "../internal/transport/Transport.ts"

/**
 * The Gossip API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Gossip {
  /** The cluster's members: state, alive, address, last report (a single node lists itself as Leader). */
  readonly clusterInfo: (options?: CallOptions) => Effect.Effect<ReadonlyArray<ClusterMember>, TransportError>
}

/**
 * The Gossip service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gossip } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const gossip = yield* Gossip.Gossip
 *   const members = yield* gossip.clusterInfo()
 *   return members.filter((m) => m.isAlive).map((m) => `${m.state} ${m.address.host}:${m.address.port}`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Gossip: Context.Service<Gossip, Gossip> = Context.Service<Gossip>("effect-esdb/Gossip")

/**
 * Builds the Gossip service on a transport. `EventStoreDB.layer` makes one per connection.
 *
 * @internal
 */
export const make = (transport: TransportShape): Gossip =>
  Gossip.of({ clusterInfo: (options) => ClusterInfo.clusterInfo(transport, options) })
