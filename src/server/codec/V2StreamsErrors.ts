/**
 * The errors of the embedded node's v2 streams service, as KurrentDB.Api.V2's `ApiErrors` builds
 * them: a gRPC status with its message, an `ErrorInfo` reason and the typed error details.
 *
 * @since 0.1.0
 */
import { Code } from "../../generated/code.ts"
import { BadRequest } from "../../generated/google/rpc/error_details.ts"
import { AccessDeniedErrorDetails } from "../../generated/kurrent/rpc/errors.ts"
import {
  AppendConsistencyViolationErrorDetails,
  AppendRecordSizeExceededErrorDetails,
  AppendTransactionSizeExceededErrorDetails,
  type ConsistencyViolation,
  StreamAlreadyInAppendSessionErrorDetails,
  StreamRevisionConflictErrorDetails,
  StreamTombstonedErrorDetails
} from "../../generated/kurrentdb/protocol/v2/streams/errors.ts"
import { v2Failure } from "../errors.ts"

const pack = <T>(typeName: string, codec: { encode(m: T): { finish(): Uint8Array } }, message: T) => ({
  typeName,
  value: codec.encode(message).finish()
})

const E = "kurrentdb.protocol.v2.streams.errors."

/** Humanizer's `Bytes().Humanize("0.000")`. */
const humanize = (bytes: number): string => {
  const units = ["B", "KB", "MB", "GB", "TB"]
  let n = Math.abs(bytes)
  let u = 0
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024
    u++
  }
  return `${(Math.sign(bytes) * n).toFixed(3)} ${units[u]}`
}

/** A BadRequest (INVALID_ARGUMENT) answering a request's field violations. */
export const badRequest = (requestType: string, failures: ReadonlyArray<{ readonly field: string; readonly description: string }>) => {
  const message = failures.length === 1
    ? `The '${requestType}' is invalid: ${failures[0]!.description}`
    : `The '${requestType}' is invalid:\n${failures.map((f) => ` -- ${f.description}\n`).join("")}`
  return v2Failure(
    Code.INVALID_ARGUMENT,
    message,
    "BAD_REQUEST",
    "server",
    pack("google.rpc.BadRequest", BadRequest, { fieldViolations: failures.map((f) => ({ field: f.field, description: f.description })) })
  )
}

/** ACCESS_DENIED for an operation. */
export const accessDenied = (operation: string) =>
  v2Failure(
    Code.PERMISSION_DENIED,
    `Access denied. Insufficient permissions to perform ${operation}`,
    "ACCESS_DENIED",
    "server",
    pack("kurrent.rpc.AccessDeniedErrorDetails", AccessDeniedErrorDetails, { operation })
  )

/** STREAM_ALREADY_IN_APPEND_SESSION: a stream named twice in one session. */
export const alreadyInSession = (stream: string) =>
  v2Failure(
    Code.ABORTED,
    `Stream '${stream}' already has a different group of messages in this session. Appends for the same stream must currently be grouped together and not interleaved with appends for other streams.`,
    "STREAM_ALREADY_IN_APPEND_SESSION",
    "streams",
    pack(E + "StreamAlreadyInAppendSessionErrorDetails", StreamAlreadyInAppendSessionErrorDetails, { stream })
  )

/** APPEND_RECORD_SIZE_EXCEEDED: one record over the node's limit. */
export const recordSizeExceeded = (stream: string, recordId: string, size: number, max: number) =>
  v2Failure(
    Code.INVALID_ARGUMENT,
    `The size of record ${recordId} (${humanize(size)}) exceeds the maximum allowed size of ${humanize(max)} bytes by ${humanize(size - max)}`,
    "APPEND_RECORD_SIZE_EXCEEDED",
    "streams",
    pack(E + "AppendRecordSizeExceededErrorDetails", AppendRecordSizeExceededErrorDetails, { stream, recordId, size, maxSize: max })
  )

/** APPEND_TRANSACTION_SIZE_EXCEEDED: the whole transaction over the node's limit. */
export const transactionSizeExceeded = (records: number, size: number, max: number) =>
  v2Failure(
    Code.ABORTED,
    `Transaction size (${humanize(size)}) exceeded the maximum allowed size of ${humanize(max)} by ${humanize(size - max)}, after ${records} record(s).`,
    "APPEND_TRANSACTION_SIZE_EXCEEDED",
    "streams",
    pack(E + "AppendTransactionSizeExceededErrorDetails", AppendTransactionSizeExceededErrorDetails, { size, maxSize: max })
  )

/** A session that sent no append request. */
export const noRequests = () =>
  v2Failure(
    Code.FAILED_PRECONDITION,
    "Append session started, but no append requests were sent before ending the session.",
    "APPEND_SESSION_NO_REQUESTS",
    "streams"
  )

/** STREAM_REVISION_CONFLICT: the expected revision of a stream does not hold. */
export const revisionConflict = (stream: string, expected: bigint, actual: bigint) =>
  v2Failure(
    Code.FAILED_PRECONDITION,
    `Append failed due to a revision conflict on stream '${stream}'. Expected revision: ${expected}. Actual revision: ${actual}.`,
    "STREAM_REVISION_CONFLICT",
    "streams",
    pack(E + "StreamRevisionConflictErrorDetails", StreamRevisionConflictErrorDetails, {
      stream,
      expectedRevision: expected,
      actualRevision: actual
    })
  )

/** STREAM_TOMBSTONED: the stream is hard-deleted. */
export const tombstoned = (stream: string) =>
  v2Failure(
    Code.FAILED_PRECONDITION,
    `Stream '${stream}' has been tombstoned. It has been permanently removed from the system and cannot be restored.`,
    "STREAM_TOMBSTONED",
    "streams",
    pack(E + "StreamTombstonedErrorDetails", StreamTombstonedErrorDetails, { stream })
  )

const violationText = (stream: string, expected: bigint, actual: bigint): string => {
  if (expected >= 0n) {
    if (actual >= 0n) return `Stream '${stream}' is at revision ${actual}, expected revision ${expected}.`
    if (actual === -1n) return `Stream '${stream}' does not exist, expected revision ${expected}.`
    if (actual === -5n) return `Stream '${stream}' is deleted, expected revision ${expected}.`
    if (actual === -6n) return `Stream '${stream}' is tombstoned, expected revision ${expected}.`
  }
  if (expected === -1n && actual >= 0n) return `Stream '${stream}' already exists at revision ${actual}.`
  if ((expected === -1n || expected === -2n) && actual === -6n) return `Stream '${stream}' is tombstoned.`
  if (expected === -4n) {
    if (actual === -1n) return `Stream '${stream}' does not exist.`
    if (actual === -5n) return `Stream '${stream}' is deleted.`
    if (actual === -6n) return `Stream '${stream}' is tombstoned.`
  }
  if (expected === -5n) {
    if (actual >= 0n) return `Stream '${stream}' is at revision ${actual}, explicitly expected deleted.`
    if (actual === -1n) return `Stream '${stream}' does not exist, explicitly expected deleted.`
    if (actual === -6n) return `Stream '${stream}' is tombstoned, explicitly expected deleted.`
  }
  if (expected === -6n) {
    if (actual === -1n) return `Stream '${stream}' does not exist, explicitly expected tombstoned.`
    if (actual === -5n) return `Stream '${stream}' is deleted, explicitly expected tombstoned.`
  }
  return `Stream '${stream}': expected state ${expected}, actual state ${actual}.`
}

/** APPEND_CONSISTENCY_VIOLATION: consistency checks that failed. */
export const consistencyViolation = (violations: ReadonlyArray<ConsistencyViolation>) => {
  let message = "Append failed due to consistency violations."
  if (violations.length > 0) {
    message += "\n"
    for (const v of violations) {
      if (v.type?.$case === "streamState") {
        const s = v.type.value
        message += `\n - ${violationText(s.stream, s.expectedState, s.actualState)}`
      }
    }
  }
  return v2Failure(
    Code.FAILED_PRECONDITION,
    message,
    "APPEND_CONSISTENCY_VIOLATION",
    "streams",
    pack(E + "AppendConsistencyViolationErrorDetails", AppendConsistencyViolationErrorDetails, { violations: [...violations] })
  )
}
