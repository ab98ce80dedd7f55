/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The connection string could not be parsed: `position` is the 0-based offset of the problem when one applies.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidConnectionString extends Schema.TaggedError<InvalidConnectionString>("effect-esdb/InvalidConnectionString")("InvalidConnectionString", {
  reason: Schema.String,
  connectionString: Schema.String,
  position: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    return `Invalid connection string: ${this.reason}`
  }
}
