/**
 * The Users API: the node's internal users (its `$users` store): create, update, delete, enable
 * and disable them, read their details, change and reset passwords. Commands need an admin
 * (`$admins`); details and changePassword any authenticated user.
 *
 * This module holds the interface and its service key, and `make` (internal: the layer is
 * `EventStoreDB.layer`); each operation lives in its own module under `src/internal/users/`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { UserDetails } from "../domain/UserDetails.ts"
import type { CallOptions } from "../internal/transport/Options.ts"
import type { TransportShape } from "../internal/transport/Transport.ts"
import type { Password } from "../internal/users/command.ts"
import * as Create from "../internal/users/create.ts"
import * as Delete from "../internal/users/delete.ts"
import * as Details from "../internal/users/details.ts"
import * as Enable from "../internal/users/enable.ts"
import type { CreateUserError, ListUsersError, UserError } from "../internal/users/errors.ts"
import * as Passwords from "../internal/users/password.ts"
import * as Update from "../internal/users/update.ts"

export type { Password } from "../internal/users/command.ts"
export type { NewUser } from "../internal/users/create.ts"
export type { CreateUserError, ListUsersError, UserError } from "../internal/users/errors.ts"
export type { UserUpdate } from "../internal/users/update.ts"

/**
 * The Users API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Users {
  /** Creates a user (UserAlreadyExists when the login is taken; the same login and password again succeeds, as on a real node). */
  readonly create: (user: Create.NewUser, options?: CallOptions) => Effect.Effect<void, CreateUserError>
  /** Replaces a user's full name and groups (passwords change with changePassword / resetPassword). */
  readonly update: (loginName: string, user: Update.UserUpdate, options?: CallOptions) => Effect.Effect<void, UserError>
  /** Deletes a user (the login may be created again). */
  readonly delete: (loginName: string, options?: CallOptions) => Effect.Effect<void, UserError>
  /** Enables a disabled user. */
  readonly enable: (loginName: string, options?: CallOptions) => Effect.Effect<void, UserError>
  /** Disables a user: it is refused authentication (Unauthenticated) until enabled. */
  readonly disable: (loginName: string, options?: CallOptions) => Effect.Effect<void, UserError>
  /** One user's details. */
  readonly details: (loginName: string, options?: CallOptions) => Effect.Effect<UserDetails, UserError>
  /** Every user's details, sorted by login. */
  readonly list: (options?: CallOptions) => Stream.Stream<UserDetails, ListUsersError>
  /** Changes a user's password, given its current one (a wrong one: AccessDenied). */
  readonly changePassword: (
    loginName: string,
    currentPassword: Password,
    newPassword: Password,
    options?: CallOptions
  ) => Effect.Effect<void, UserError>
  /** Sets a user's password (admins; no current password needed). */
  readonly resetPassword: (loginName: string, newPassword: Password, options?: CallOptions) => Effect.Effect<void, UserError>
}

/**
 * The Users service.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Users } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const users = yield* Users.Users
 *   yield* users.create({ loginName: "alice", password: Redacted.make("s3cret"), fullName: "Alice", groups: ["$ops"] })
 *   const alice = yield* users.details("alice")
 *   yield* users.disable("alice")
 *   return alice.groups
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Users: Context.Service<Users, Users> = Context.Service<Users>("effect-esdb/Users")

/**
 * Builds the Users service on a transport. `EventStoreDB.layer` makes one per connection.
 *
 * @internal
 */
export const make = (transport: TransportShape): Users =>
  Users.of({
    create: (user, options) => Create.create(transport, user, options),
    update: (loginName, user, options) => Update.update(transport, loginName, user, options),
    delete: (loginName, options) => Delete.deleteUser(transport, loginName, options),
    enable: (loginName, options) => Enable.enable(transport, loginName, options),
    disable: (loginName, options) => Enable.disable(transport, loginName, options),
    details: (loginName, options) => Details.details(transport, loginName, options),
    list: (options) => Details.list(transport, options),
    changePassword: (loginName, current, next, options) => Passwords.changePassword(transport, loginName, current, next, options),
    resetPassword: (loginName, next, options) => Passwords.resetPassword(transport, loginName, next, options)
  })
