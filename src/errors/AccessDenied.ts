/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The server refused the call for the given (or anonymous) credentials.
 *
 * @since 0.1.0
 * @category errors
 */
export class AccessDenied extends Schema.TaggedError<AccessDenied>("effect-esdb/AccessDenied")("AccessDenied", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason || "Access denied"
  }
}
