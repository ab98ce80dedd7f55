/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The persistent-subscription group already has as many consumers as its `maxSubscriberCount`
 * allows.
 *
 * @since 0.1.0
 * @category errors
 */
export class MaximumSubscribersReached
  extends Schema.TaggedError<MaximumSubscribersReached>("effect-esdb/MaximumSubscribersReached")(
    "MaximumSubscribersReached",
    {
      stream: Schema.String,
      group: Schema.String
    }
  )
{
  override get message(): string {
    return `Maximum subscribers reached for persistent subscription group '${this.group}' on stream '${this.stream}'`
  }
}
