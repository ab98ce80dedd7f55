/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * No persistent-subscription group of that name exists on the stream (or on `$all`).
 *
 * @since 0.1.0
 * @category errors
 */
export class SubscriptionNotFound extends Schema.TaggedError<SubscriptionNotFound>("effect-esdb/SubscriptionNotFound")(
  "SubscriptionNotFound",
  {
    stream: Schema.String,
    group: Schema.String
  }
) {
  override get message(): string {
    return `Persistent subscription group '${this.group}' on stream '${this.stream}' does not exist`
  }
}
