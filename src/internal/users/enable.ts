/**
 * `Users.enable` and `disable`: one Enable / Disable call. A disabled user is refused
 * authentication (Unauthenticated) until enabled again.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { command, problemOf } from "./command.ts"
import { toUserError, type UserError } from "./errors.ts"
import { Disable, Enable } from "./methods.ts"

/** @internal */
export const enable = (
  transport: TransportShape,
  loginName: string,
  options?: CallOptions
): Effect.Effect<void, UserError> =>
  Effect.suspend(() => {
    const problem = problemOf(loginName)
    if (problem) return Effect.fail(problem)
    return command(transport, "Users.enable", loginName, options, toUserError(loginName), (spec) =>
      transport.unary(Enable, { options: { loginName } }, spec))
  })

/** @internal */
export const disable = (
  transport: TransportShape,
  loginName: string,
  options?: CallOptions
): Effect.Effect<void, UserError> =>
  Effect.suspend(() => {
    const problem = problemOf(loginName)
    if (problem) return Effect.fail(problem)
    return command(transport, "Users.disable", loginName, options, toUserError(loginName), (spec) =>
      transport.unary(Disable, { options: { loginName } }, spec))
  })
