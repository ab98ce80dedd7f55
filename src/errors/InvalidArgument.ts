/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The request was rejected as malformed, by the client before sending it or by the node.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>("effect-esdb/InvalidArgument")("InvalidArgument", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason
  }
}
