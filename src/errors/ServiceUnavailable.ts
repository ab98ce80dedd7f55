/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The node could not be reached, or it is not ready or too busy: safe to retry.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>("effect-esdb/ServiceUnavailable")("ServiceUnavailable", {
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return this.reason || "Service unavailable"
  }
}
