/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Discovery with `NodePreference=follower` read the cluster's gossip but found no live member in state
 * Follower. Discovery asks again,
 * `DiscoveryInterval` apart, for `MaxDiscoverAttempts` rounds (an election or a member catching up
 * is transitional); this is the outcome when gossip still listed none in the last round. `members`
 * is what the last gossip answer listed (`host:port State`, `(dead)` for members not alive).
 *
 * @since 0.1.0
 * @category errors
 */
export class FollowerNotFound extends Schema.TaggedError<FollowerNotFound>("effect-esdb/FollowerNotFound")("FollowerNotFound", {
  attempts: Schema.Number,
  members: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `No follower found by gossip after ${this.attempts} attempt(s) (NodePreference=follower); the cluster reported: ${
      this.members.length === 0 ? "no members" : this.members.join(", ")
    }`
  }
}
