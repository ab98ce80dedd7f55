/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The stream does not exist, or was soft-deleted.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>("effect-esdb/NotFound")("NotFound", {
  stream: Schema.String
}) {
  override get message(): string {
    return `Stream '${this.stream}' not found`
  }
}
