/**
 * The text of a thrown value, for a typed error's reason or a status's details: an `Error`'s
 * message, anything else as a string.
 *
 * @internal
 */
export const errorText = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)
