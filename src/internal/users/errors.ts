/**
 * The error unions of the Users operations, and how a transport failure is narrowed to the union
 * of the operation that met it. classifyError.ts (the one classifier) reads the node's
 * `user-not-found` / `user-conflict` trailers; here they are only narrowed, with the login filled
 * in when the node named none.
 *
 * @internal
 */
import type { UserAlreadyExists } from "../../errors/UserAlreadyExists.ts"
import type { UserNotFound } from "../../errors/UserNotFound.ts"
import type { CallError } from "../transport/CallError.ts"
import { withContext } from "../transport/classifyError.ts"
import { narrow, type TransportError, transportTags } from "../transport/TransportError.ts"

export type { TransportError } from "../transport/TransportError.ts"

/**
 * Errors of creating a user: the login is taken (with another password), or a transport error
 * (AccessDenied: the caller is not an admin).
 *
 * @since 0.1.0
 * @category errors
 */
export type CreateUserError = UserAlreadyExists | TransportError

/**
 * Errors of the operations on one existing user (update, delete, enable, disable, details of
 * one, changePassword, resetPassword). AccessDenied: the caller may not, or (changePassword) the
 * current password is wrong.
 *
 * @since 0.1.0
 * @category errors
 */
export type UserError = UserNotFound | TransportError

/**
 * Errors of listing every user.
 *
 * @since 0.1.0
 * @category errors
 */
export type ListUsersError = TransportError

/** @internal */
export const toCreateError = (loginName: string) => {
  const keep = narrow([...transportTags, "UserAlreadyExists"])
  return (error: CallError): CreateUserError => keep(withContext(error, { loginName }))
}

/** @internal */
export const toUserError = (loginName: string) => {
  const keep = narrow([...transportTags, "UserNotFound"])
  return (error: CallError): UserError => keep(withContext(error, { loginName }))
}
