/**
 * Checks of the Projections operations' input, made before any call.
 *
 * @internal
 */
import { InvalidArgument } from "../../errors/InvalidArgument.ts"

/** An empty or blank name is refused (the node would answer NOT_FOUND or create a nameless one). @internal */
export const name = (value: string): InvalidArgument | undefined =>
  typeof value !== "string" || value.trim() === ""
    ? new InvalidArgument({ reason: "A projection name must not be empty" })
    : undefined

/** An empty or blank query is refused (the node would fault the projection at once). @internal */
export const query = (value: string): InvalidArgument | undefined =>
  typeof value !== "string" || value.trim() === ""
    ? new InvalidArgument({ reason: "A projection query must not be empty" })
    : undefined
