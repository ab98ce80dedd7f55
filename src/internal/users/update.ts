/**
 * `Users.update`: one Update call, replacing the user's full name and groups. The request's
 * password field is left empty: a real node ignores it (`G/Users.Update.cs` passes only the
 * login, full name and groups); passwords change through changePassword / resetPassword.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { command, problemOf } from "./command.ts"
import { toUserError, type UserError } from "./errors.ts"
import { Update } from "./methods.ts"
import * as validate from "./validate.ts"

/**
 * What an update sets: the user's full name and groups (both replaced).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserUpdate {
  readonly fullName: string
  readonly groups: ReadonlyArray<string>
}

/** @internal */
export const update = (
  transport: TransportShape,
  loginName: string,
  user: UserUpdate,
  options?: CallOptions
): Effect.Effect<void, UserError> =>
  Effect.suspend(() => {
    const problem = problemOf(loginName) ?? validate.groups(user.groups)
    if (problem) return Effect.fail(problem)
    const request = {
      options: { loginName, password: "", fullName: user.fullName, groups: [...user.groups] }
    }
    return command(transport, "Users.update", loginName, options, toUserError(loginName), (spec) =>
      transport.unary(Update, request, spec))
  })
