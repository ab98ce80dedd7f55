/**
 * `Users.changePassword` (any user, knowing the current password: a wrong one is AccessDenied)
 * and `resetPassword` (admins: no current password needed).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { command, type Password, problemOf, reveal } from "./command.ts"
import { toUserError, type UserError } from "./errors.ts"
import { ChangePassword, ResetPassword } from "./methods.ts"

/** @internal */
export const changePassword = (
  transport: TransportShape,
  loginName: string,
  currentPassword: Password,
  newPassword: Password,
  options?: CallOptions
): Effect.Effect<void, UserError> =>
  Effect.suspend(() => {
    const problem = problemOf(loginName, [currentPassword, "current password"], [newPassword, "new password"])
    if (problem) return Effect.fail(problem)
    const request = { options: { loginName, currentPassword: reveal(currentPassword), newPassword: reveal(newPassword) } }
    return command(transport, "Users.changePassword", loginName, options, toUserError(loginName), (spec) =>
      transport.unary(ChangePassword, request, spec))
  })

/** @internal */
export const resetPassword = (
  transport: TransportShape,
  loginName: string,
  newPassword: Password,
  options?: CallOptions
): Effect.Effect<void, UserError> =>
  Effect.suspend(() => {
    const problem = problemOf(loginName, [newPassword, "new password"])
    if (problem) return Effect.fail(problem)
    const request = { options: { loginName, newPassword: reveal(newPassword) } }
    return command(transport, "Users.resetPassword", loginName, options, toUserError(loginName), (spec) =>
      transport.unary(ResetPassword, request, spec))
  })
