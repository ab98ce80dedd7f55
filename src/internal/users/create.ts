/**
 * `Users.create`: one Create call. A real node answers a create of an existing login with the
 * same password as a success, with another password UserAlreadyExists.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { command, type Password, problemOf, reveal } from "./command.ts"
import { type CreateUserError, toCreateError } from "./errors.ts"
import { Create } from "./methods.ts"
import * as validate from "./validate.ts"

/**
 * A new user.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewUser {
  readonly loginName: string
  readonly password: Password
  /** Default: the login name. */
  readonly fullName?: string | undefined
  /** Its groups (roles), e.g. `["$admins"]`. Default none. */
  readonly groups?: ReadonlyArray<string> | undefined
}

/** @internal */
export const create = (
  transport: TransportShape,
  user: NewUser,
  options?: CallOptions
): Effect.Effect<void, CreateUserError> =>
  Effect.suspend(() => {
    const problem = problemOf(user.loginName, [user.password, "password"]) ?? validate.groups(user.groups)
    if (problem) return Effect.fail(problem)
    const request = {
      options: {
        loginName: user.loginName,
        password: reveal(user.password),
        fullName: user.fullName ?? user.loginName,
        groups: [...(user.groups ?? [])]
      }
    }
    return command(
      transport,
      "Users.create",
      user.loginName,
      options,
      toCreateError(user.loginName),
      (spec) => transport.unary(Create, request, spec)
    )
  })
