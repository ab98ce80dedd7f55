/**
 * The error unions of the Projections operations, and how a transport failure is narrowed to the
 * union of the operation that met it. The node signals projection failures by status and text
 * only (PROTOCOL.md §5), no `exception` trailer:
 * - NOT_FOUND "Projection 'x' not found" → ProjectionNotFound;
 * - ALREADY_EXISTS (after v26.1), or UNKNOWN "Envelope callback expected Updated, received
 *   Conflict instead" (released versions) → ProjectionAlreadyExists;
 * - UNKNOWN "… received OperationFailed instead" (delete of a projection not stopped or faulted)
 *   and FAILED_PRECONDITION "Projection Subsystem cannot be restarted as it is in the wrong
 *   state: …" → ProjectionWrongState.
 *
 * @internal
 */
import { GrpcError } from "../../errors/GrpcError.ts"
import { ProjectionAlreadyExists } from "../../errors/ProjectionAlreadyExists.ts"
import { ProjectionNotFound } from "../../errors/ProjectionNotFound.ts"
import { ProjectionWrongState } from "../../errors/ProjectionWrongState.ts"
import { Code } from "../../generated/code.ts"
import { toTransportError, type TransportError } from "../transport/TransportError.ts"
import type { CallError } from "../transport/CallError.ts"

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

const notFoundText = /^Projection '(.*)' not found/s

/** @internal */
export const isNotFound = (error: CallError): error is GrpcError =>
  error._tag === "GrpcError" && error.code === Code.NOT_FOUND && notFoundText.test(error.details)

/** @internal */
export const isAlreadyExists = (error: CallError): error is GrpcError =>
  error._tag === "GrpcError" &&
  (error.code === Code.ALREADY_EXISTS ||
    (error.code === Code.UNKNOWN && /received Conflict instead/.test(error.details)))

/** @internal */
export const isOperationFailed = (error: CallError): error is GrpcError =>
  error._tag === "GrpcError" && error.code === Code.UNKNOWN && /received OperationFailed instead/.test(error.details)

/** @internal */
export const isSubsystemWrongState = (error: CallError): error is GrpcError =>
  error._tag === "GrpcError" && error.code === Code.FAILED_PRECONDITION && /wrong state/i.test(error.details)

/** @internal */
export const toCreateError = (name: string) => (error: CallError): CreateProjectionError =>
  isAlreadyExists(error) ? new ProjectionAlreadyExists({ name }) : toTransportError(error)

/** @internal */
export const toProjectionError = (name: string) => (error: CallError): ProjectionError =>
  isNotFound(error) ? new ProjectionNotFound({ name: notFoundText.exec(error.details)?.[1] ?? name }) : toTransportError(error)

/** @internal */
export const toDeleteError = (name: string) => (error: CallError): DeleteProjectionError =>
  isOperationFailed(error)
    ? new ProjectionWrongState({ name, reason: "Cannot delete a projection that hasn't been stopped or faulted." })
    : toProjectionError(name)(error)

/** @internal */
export const toRestartError = (error: CallError): RestartSubsystemError =>
  isSubsystemWrongState(error) ? new ProjectionWrongState({ name: "", reason: error.details }) : toTransportError(error)

/** @internal */
export const toListError = toTransportError
