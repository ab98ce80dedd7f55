/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The server did not accept the credentials (bad user name or password, or a disabled user).
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>("effect-esdb/Unauthenticated")("Unauthenticated", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason || "Unauthenticated"
  }
}
