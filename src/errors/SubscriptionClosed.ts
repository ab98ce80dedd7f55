/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * `ack` or `nack` on a consumer of a persistent-subscription group whose scope has closed: its
 * last acks and nacks were sent when it closed, and nothing can be sent any more, so these ids
 * were not (the node delivers those events again, to this group's consumers, after its message
 * timeout). Acknowledge inside the scope that `readToStream` / `readToAll` ran in.
 *
 * @since 0.1.0
 * @category errors
 */
export class SubscriptionClosed extends Schema.TaggedError<SubscriptionClosed>("effect-esdb/SubscriptionClosed")(
  "SubscriptionClosed",
  {
    stream: Schema.String,
    group: Schema.String
  }
) {
  override get message(): string {
    return `The consumer of persistent subscription group '${this.group}' on stream '${this.stream}' is closed: acks and nacks can no longer be sent`
  }
}
