/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Discovery with `NodePreference=readonlyreplica` read the cluster's gossip but found no live member in state
 * ReadOnlyReplica, PreReadOnlyReplica or ReadOnlyLeaderless. Discovery asks again,
 * `DiscoveryInterval` apart, for `MaxDiscoverAttempts` rounds (an election or a member catching up
 * is transitional); this is the outcome when gossip still listed none in the last round. `members`
 * is what the last gossip answer listed (`host:port State`, `(dead)` for members not alive).
 *
 * @since 0.1.0
 * @category errors
 */
export class ReadOnlyReplicaNotFound extends Schema.TaggedError<ReadOnlyReplicaNotFound>("effect-esdb/ReadOnlyReplicaNotFound")("ReadOnlyReplicaNotFound", {
  attempts: Schema.Number,
  members: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `No read-only replica found by gossip after ${this.attempts} attempt(s) (NodePreference=readonlyreplica); the cluster reported: ${
      this.members.length === 0 ? "no members" : this.members.join(", ")
    }`
  }
}
