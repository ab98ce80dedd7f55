/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The call needs the leader and reached a follower; `leader` is the leader's endpoint when the
 * node knows it (from the `leader-endpoint-host` / `leader-endpoint-port` trailers).
 *
 * @since 0.1.0
 * @category errors
 */
export class NodeIsNotLeader extends Schema.TaggedError<NodeIsNotLeader>("effect-esdb/NodeIsNotLeader")(
  "NodeIsNotLeader",
  {
    leader: Schema.optional(Schema.Struct({ host: Schema.String, port: Schema.Number }))
  }
) {
  override get message(): string {
    return this.leader
      ? `Node is not the leader; the leader is ${this.leader.host}:${this.leader.port}`
      : "Node is not the leader and no leader is known"
  }
}
