/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The call did not finish before its deadline.
 *
 * @since 0.1.0
 * @category errors
 */
export class DeadlineExceeded extends Schema.TaggedError<DeadlineExceeded>("effect-esdb/DeadlineExceeded")("DeadlineExceeded", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason || "Deadline exceeded"
  }
}
