/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A persistent-subscription group of that name already exists on the stream (or on `$all`).
 *
 * @since 0.1.0
 * @category errors
 */
export class SubscriptionAlreadyExists extends Schema.TaggedError<SubscriptionAlreadyExists>(
  "effect-esdb/SubscriptionAlreadyExists"
)("SubscriptionAlreadyExists", {
  stream: Schema.String,
  group: Schema.String
}) {
  override get message(): string {
    return `Persistent subscription group '${this.group}' on stream '${this.stream}' already exists`
  }
}
