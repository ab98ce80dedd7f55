/**
 * The error unions of the Operations operations. classifyError.ts reads the node's
 * `scavenge-not-found` trailer; here it is only narrowed, with the id asked for filled in.
 *
 * @internal
 */
import type { ScavengeNotFound } from "../../errors/ScavengeNotFound.ts"
import type { CallError } from "../transport/CallError.ts"
import { withContext } from "../transport/classifyError.ts"
import { narrow, type TransportError, transportTags } from "../transport/TransportError.ts"

export type { TransportError } from "../transport/TransportError.ts"

/**
 * Errors of the Operations calls (AccessDenied: the caller is neither an admin nor an operator).
 *
 * @since 0.1.0
 * @category errors
 */
export type OperationsError = TransportError

/**
 * Errors of stopping a scavenge: it is not the one running.
 *
 * @since 0.1.0
 * @category errors
 */
export type StopScavengeError = ScavengeNotFound | TransportError

/** @internal */
export const toStopScavengeError = (scavengeId: string) => {
  const keep = narrow([...transportTags, "ScavengeNotFound"])
  return (error: CallError): StopScavengeError => keep(withContext(error, { scavengeId }))
}
