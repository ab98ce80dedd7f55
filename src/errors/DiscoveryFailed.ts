/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * No suitable cluster member was found by gossip discovery within the allowed attempts.
 *
 * @since 0.1.0
 * @category errors
 */
export class DiscoveryFailed extends Schema.TaggedError<DiscoveryFailed>("effect-esdb/DiscoveryFailed")("DiscoveryFailed", {
  reason: Schema.String,
  attempts: Schema.Number
}) {
  override get message(): string {
    return `Failed to discover a cluster member after ${this.attempts} attempt(s): ${this.reason}`
  }
}
