/**
 * `event_store.client.users.Users`: Create, Update, Delete, Enable, Disable, Details (one user,
 * or all sorted by login when the login is empty), ChangePassword and ResetPassword over the
 * node's {@link UserStore}, answered as a real node answers (PROTOCOL.md §6, §2).
 *
 * Sources (kurrent-io/KurrentDB, `G/` = `src/KurrentDB.Core/Services/Transport/Grpc/`):
 * `G/Users.*.cs` (the access check first, then `request.Options` read: without options a
 * NullReferenceException, UNKNOWN, except Details, which then lists everyone), `G/Users.cs`
 * `HandleErrors` (NotFound → `user-not-found`, Conflict → `user-conflict` FAILED_PRECONDITION
 * "Conflict.", TryAgain → `user-conflict` DEADLINE_EXCEEDED "Try again.", Unauthorized →
 * `access-denied`), `G/RpcExceptions.cs`, and the access policy of
 * `src/KurrentDB.Core/Authorization/AuthorizationPolicies/LegacyPolicySelectorFactory.cs`:
 * Create, Update, Delete, Enable, Disable and ResetPassword need `$admins` (or the user `admin`);
 * Details and ChangePassword any authenticated user (the gRPC layer passes the caller's own name
 * as the user parameter, so the name check always matches); ChangePassword then needs the target
 * user's current password.
 *
 * @since 0.1.0
 */
import { Code } from "../../generated/code.ts"
import {
  type ChangePasswordReq,
  type ChangePasswordResp,
  type CreateReq,
  type CreateResp,
  type DeleteReq,
  type DeleteResp,
  type DetailsReq,
  type DetailsResp,
  type DisableReq,
  type DisableResp,
  type EnableReq,
  type EnableResp,
  type ResetPasswordReq,
  type ResetPasswordResp,
  type UpdateReq,
  type UpdateResp,
  UsersService
} from "../../generated/users.ts"
import { Access, type Auth, type Principal } from "../Auth.ts"
import { accessDenied, rpcFailure, type RpcFailure, unhandled } from "../errors.ts"
import type { Store } from "../storage/Store.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"
import type { UserDetails, UserError, UserStore } from "../users/UserStore.ts"

/**
 * The methods served: the whole Users service.
 *
 * @since 0.1.0
 * @category constants
 */
export const UsersServiceDefinition: ServiceDefinition = UsersService

/**
 * What the handler needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface UsersContext {
  readonly store: Store
  readonly auth: Auth
  readonly users: UserStore
}

/**
 * `user-not-found`: NOT_FOUND "User 'x' is not found." with `login-name`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const userNotFound = (login: string): RpcFailure =>
  rpcFailure(Code.NOT_FOUND, `User '${login}' is not found.`, { exception: "user-not-found", "login-name": login })

/**
 * `user-conflict`: FAILED_PRECONDITION "Conflict." with `login-name`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const userConflict = (login: string): RpcFailure =>
  rpcFailure(Code.FAILED_PRECONDITION, "Conflict.", { exception: "user-conflict", "login-name": login })

/**
 * `user-conflict` with DEADLINE_EXCEEDED "Try again." (a write that timed out).
 *
 * @since 0.1.0
 * @category constructors
 */
export const userTryAgain = (login: string): RpcFailure =>
  rpcFailure(Code.DEADLINE_EXCEEDED, "Try again.", { exception: "user-conflict", "login-name": login })

/** The answer to a failed user command (`Users.HandleErrors`). */
const failureOf = (login: string, error: UserError): RpcFailure => {
  switch (error) {
    case "NotFound":
      return userNotFound(login)
    case "Conflict":
      return userConflict(login)
    case "TryAgain":
      return userTryAgain(login)
    case "Unauthorized":
      return accessDenied()
    case "Error":
      // RpcExceptions.UnknownError(UserManagementMessage.Error.Error)
      return rpcFailure(Code.UNKNOWN, "Unexpected Error: Error")
  }
}

const detailsOf = (user: UserDetails): DetailsResp => ({
  userDetails: {
    loginName: user.loginName,
    fullName: user.fullName,
    groups: [...user.groups],
    disabled: user.disabled,
    lastUpdated: user.lastUpdatedTicks === undefined ? undefined : { ticksSinceEpoch: user.lastUpdatedTicks }
  }
})

/**
 * The Users service implementation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeUsersHandler = (ctx: UsersContext): ServiceImplementation => {
  const { auth, store, users } = ctx

  /** The caller, if allowed: `admin` = in `$admins` or the user `admin`, else any authenticated user. */
  const principalFor = (call: ServerCall, admin: boolean): Principal | RpcFailure =>
    auth.authorize(call.metadata, admin ? Access.roles("$admins", "admin") : Access.user)
  const isFailure = (p: Principal | RpcFailure): p is RpcFailure => p instanceof Error

  /** Runs a command once allowed; replies once its writes are durable. */
  const command = <A>(
    call: ServerCall,
    callback: UnaryCallback<A>,
    admin: boolean,
    login: string | undefined,
    run: (login: string) => UserError | undefined,
    reply: A
  ) => {
    const principal = principalFor(call, admin)
    if (isFailure(principal)) return callback(principal)
    if (login === undefined) return callback(unhandled())
    let error: UserError | undefined
    try {
      error = run(login)
    } catch {
      return callback(unhandled())
    }
    if (error !== undefined) return callback(failureOf(login, error))
    store.whenDurable((failure) => (failure === undefined ? callback(null, reply) : callback(unhandled())))
  }

  return {
    create: (call: ServerCall<CreateReq, CreateResp>, callback: UnaryCallback<CreateResp>) => {
      const o = call.request.options
      command(call, callback, true, o?.loginName, (l) => users.create(l, o!.password, o!.fullName, o!.groups), {})
    },
    update: (call: ServerCall<UpdateReq, UpdateResp>, callback: UnaryCallback<UpdateResp>) => {
      const o = call.request.options
      command(call, callback, true, o?.loginName, (l) => users.update(l, o!.fullName, o!.groups), {})
    },
    delete: (call: ServerCall<DeleteReq, DeleteResp>, callback: UnaryCallback<DeleteResp>) => {
      command(call, callback, true, call.request.options?.loginName, (l) => users.delete(l), {})
    },
    enable: (call: ServerCall<EnableReq, EnableResp>, callback: UnaryCallback<EnableResp>) => {
      command(call, callback, true, call.request.options?.loginName, (l) => users.enable(l), {})
    },
    disable: (call: ServerCall<DisableReq, DisableResp>, callback: UnaryCallback<DisableResp>) => {
      command(call, callback, true, call.request.options?.loginName, (l) => users.disable(l), {})
    },
    resetPassword: (call: ServerCall<ResetPasswordReq, ResetPasswordResp>, callback: UnaryCallback<ResetPasswordResp>) => {
      const o = call.request.options
      command(call, callback, true, o?.loginName, (l) => users.resetPassword(l, o!.newPassword), {})
    },
    changePassword: (call: ServerCall<ChangePasswordReq, ChangePasswordResp>, callback: UnaryCallback<ChangePasswordResp>) => {
      const o = call.request.options
      command(call, callback, false, o?.loginName, (l) => users.changePassword(l, o!.currentPassword, o!.newPassword), {})
    },
    details: (call: ServerCall<DetailsReq, DetailsResp>) => {
      const principal = principalFor(call, false)
      if (isFailure(principal)) return call.sendStatus(principal)
      const login = call.request.options?.loginName ?? ""
      // string.IsNullOrWhiteSpace(options?.LoginName): everyone
      const found = login.trim() === "" ? users.all() : users.details(login)
      if (typeof found === "string") return call.sendStatus(failureOf(login, found))
      const list = Array.isArray(found) ? found : [found as UserDetails]
      // with backpressure: a client that stops reading holds the rest on the node, not in its buffers
      let i = 0
      const pump = (): void => {
        while (i < list.length) {
          if (call.closed) return
          if (!call.write(detailsOf(list[i++]!))) {
            call.once("drain", pump)
            return
          }
        }
        call.end()
      }
      pump()
    }
  }
}
