/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * No user of that login exists, or it was deleted (the node's NOT_FOUND `user-not-found`
 * "User 'x' is not found.").
 *
 * @since 0.1.0
 * @category errors
 */
export class UserNotFound extends Schema.TaggedError<UserNotFound>("effect-esdb/UserNotFound")(
  "UserNotFound",
  { loginName: Schema.String }
) {
  override get message(): string {
    return `User '${this.loginName}' is not found`
  }
}
