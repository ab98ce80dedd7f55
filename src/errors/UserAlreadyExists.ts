/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A user of that login exists already (the node's FAILED_PRECONDITION `user-conflict`
 * "Conflict."). A real node answers a create of an existing login with the same password as a
 * success, so only a create with another password meets this.
 *
 * @since 0.1.0
 * @category errors
 */
export class UserAlreadyExists extends Schema.TaggedError<UserAlreadyExists>("effect-esdb/UserAlreadyExists")(
  "UserAlreadyExists",
  { loginName: Schema.String }
) {
  override get message(): string {
    return `User '${this.loginName}' already exists`
  }
}
