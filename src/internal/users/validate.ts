/**
 * Checks of the Users operations' input, made before any call.
 *
 * @internal
 */
import { InvalidArgument } from "../../errors/InvalidArgument.ts"

/** An empty or blank login is refused (the node would take it as "every user" or answer NOT_FOUND). @internal */
export const loginName = (value: string): InvalidArgument | undefined =>
  typeof value !== "string" || value.trim() === ""
    ? new InvalidArgument({ reason: "A user's login name must not be empty" })
    : undefined

/** An empty password is refused (nobody could log in with it). @internal */
export const password = (value: string, what = "password"): InvalidArgument | undefined =>
  typeof value !== "string" || value === ""
    ? new InvalidArgument({ reason: `The ${what} must not be empty` })
    : undefined

/** Groups must be non-empty strings. @internal */
export const groups = (value: ReadonlyArray<string> | undefined): InvalidArgument | undefined =>
  value !== undefined && (!Array.isArray(value) || value.some((g) => typeof g !== "string" || g.trim() === ""))
    ? new InvalidArgument({ reason: "A user's groups must be non-empty strings" })
    : undefined
