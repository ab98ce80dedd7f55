/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The node dropped this consumer of a persistent-subscription group: the group was updated or
 * deleted, or the subsystem restarted. Subscribing again connects to
 * the group as it is now.
 *
 * @since 0.1.0
 * @category errors
 */
export class SubscriptionDropped extends Schema.TaggedError<SubscriptionDropped>("effect-esdb/SubscriptionDropped")(
  "SubscriptionDropped",
  {
    stream: Schema.String,
    group: Schema.String,
    reason: Schema.String
  }
) {
  override get message(): string {
    return `Persistent subscription group '${this.group}' on stream '${this.stream}' was dropped: ${this.reason}`
  }
}
