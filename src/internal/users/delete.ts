/**
 * `Users.delete`: one Delete call (the user's stream is deleted: the login can be created again).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { command, problemOf } from "./command.ts"
import { toUserError, type UserError } from "./errors.ts"
import { Delete } from "./methods.ts"

/** @internal */
export const deleteUser = (
  transport: TransportShape,
  loginName: string,
  options?: CallOptions
): Effect.Effect<void, UserError> =>
  Effect.suspend(() => {
    const problem = problemOf(loginName)
    if (problem) return Effect.fail(problem)
    return command(transport, "Users.delete", loginName, options, toUserError(loginName), (spec) =>
      transport.unary(Delete, { options: { loginName } }, spec))
  })
