/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Discovery with `NodePreference=leader` read the cluster's gossip but found no live member in state
 * Leader. Discovery asks again,
 * `DiscoveryInterval` apart, for `MaxDiscoverAttempts` rounds (an election or a member catching up
 * is transitional); this is the outcome when gossip still listed none in the last round. `members`
 * is what the last gossip answer listed (`host:port State`, `(dead)` for members not alive).
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaderNotFound extends Schema.TaggedError<LeaderNotFound>("effect-esdb/LeaderNotFound")("LeaderNotFound", {
  attempts: Schema.Number,
  members: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `No leader found by gossip after ${this.attempts} attempt(s) (NodePreference=leader); the cluster reported: ${
      this.members.length === 0 ? "no members" : this.members.join(", ")
    }`
  }
}
