/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A member of the cluster as gossip reports it (`Gossip.clusterInfo`).
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterMember extends Schema.Class<ClusterMember>("effect-esdb/ClusterMember")({
  /** The node's instance id (a UUID). */
  instanceId: Schema.String,
  /** When the member's state was last reported (the node's clock). */
  timestamp: Schema.Date,
  /** Its role: `Leader`, `Follower`, `ReadOnlyReplica`, `CatchingUp`, `Manager`, `ShuttingDown`, ... */
  state: Schema.String,
  /** Whether the member is alive as far as gossip knows. */
  isAlive: Schema.Boolean,
  /** Where clients reach it (its HTTP / gRPC endpoint). */
  address: Schema.Struct({ host: Schema.String, port: Schema.Number })
}) {}
