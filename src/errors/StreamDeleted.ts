/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The stream was tombstoned (hard-deleted): it can never be read or written again.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamDeleted extends Schema.TaggedError<StreamDeleted>("effect-esdb/StreamDeleted")("StreamDeleted", {
  stream: Schema.String
}) {
  override get message(): string {
    return `Stream '${this.stream}' is deleted`
  }
}
