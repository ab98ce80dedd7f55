/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The append was larger than the node accepts (MaxAppendSize, or MaxAppendEventSize for one event).
 *
 * @since 0.1.0
 * @category errors
 */
export class MaximumAppendSizeExceeded extends Schema.TaggedError<MaximumAppendSizeExceeded>("effect-esdb/MaximumAppendSizeExceeded")("MaximumAppendSizeExceeded", {
  reason: Schema.String,
  maximum: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    return this.reason
  }
}
