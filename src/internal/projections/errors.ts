/**
 * The error unions of the Projections operations, and how a transport failure is narrowed to the
 * union of the operation that met it. The node signals projection failures by status and text
 * only (PROTOCOL.md §5), no `exception` trailer; classifyError.ts (the one classifier) reads them
 * (ProjectionNotFound, ProjectionAlreadyExists, ProjectionWrongState), and here they are only
 * narrowed, with the projection's name filled in when the node's text has none.
 *
 * @internal
 */
import type { ProjectionAlreadyExists } from "../../errors/ProjectionAlreadyExists.ts"
import type { ProjectionNotFound } from "../../errors/ProjectionNotFound.ts"
import type { ProjectionWrongState } from "../../errors/ProjectionWrongState.ts"
import type { CallError } from "../transport/CallError.ts"
import { withContext } from "../transport/classifyError.ts"
import { narrow, toTransportError, type TransportError, transportTags } from "../transport/TransportError.ts"

export { toTransportError }
export type { TransportError } from "../transport/TransportError.ts"

/**
 * Errors of creating a projection.
 *
 * @since 0.1.0
 * @category errors
 */
export type CreateProjectionError = ProjectionAlreadyExists | TransportError

/**
 * Errors of the operations on one existing projection (update, enable, disable, abort, reset,
 * state, result, statistics of one).
 *
 * @since 0.1.0
 * @category errors
 */
export type ProjectionError = ProjectionNotFound | TransportError

/**
 * Errors of deleting a projection: it must exist and be stopped or faulted.
 *
 * @since 0.1.0
 * @category errors
 */
export type DeleteProjectionError = ProjectionNotFound | ProjectionWrongState | TransportError

/**
 * Errors of restarting the projection subsystem.
 *
 * @since 0.1.0
 * @category errors
 */
export type RestartSubsystemError = ProjectionWrongState | TransportError

/**
 * Errors of listing projections (statistics of all, or of one mode).
 *
 * @since 0.1.0
 * @category errors
 */
export type ListProjectionsError = TransportError

/** @internal */
export const toCreateError = (name: string) => {
  const keep = narrow([...transportTags, "ProjectionAlreadyExists"])
  return (error: CallError): CreateProjectionError => keep(withContext(error, { projection: name }))
}

/** @internal */
export const toProjectionError = (name: string) => {
  const keep = narrow([...transportTags, "ProjectionNotFound"])
  return (error: CallError): ProjectionError => keep(withContext(error, { projection: name }))
}

/** @internal */
export const toDeleteError = (name: string) => {
  const keep = narrow([...transportTags, "ProjectionNotFound", "ProjectionWrongState"])
  return (error: CallError): DeleteProjectionError => keep(withContext(error, { projection: name }))
}

/** @internal */
export const toRestartError: (error: CallError) => RestartSubsystemError = narrow([...transportTags, "ProjectionWrongState"])

/** @internal */
export const toListError = toTransportError
