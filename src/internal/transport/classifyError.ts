/**
 * The one place where gRPC failures become effect-esdb's typed errors.
 *
 * Two entry points:
 * - {@link classifyError} for a failed call (a grpc-js `ServiceError`: status code, detail
 *   text and trailing metadata, whose `exception` trailer names the server-side error), read
 *   through one table, {@link rules}, from (exception trailer, status, details pattern) to a
 *   tagged error carrying what the call was about (stream, group, projection). Every service
 *   and discovery use it; each service's `errors.ts` only narrows its result;
 * - {@link classifyRpcStatus} for BatchAppend's in-band `google.rpc.Status`, whose `details`
 *   is an `Any` packing one of the `event_store.client.*` messages of shared.proto.
 *
 * Whether an error may be retried is decided in one place: Retry.ts.
 *
 * @since 0.1.0
 */
import type { StreamState } from "../../domain/StreamState.ts"
import { AccessDenied } from "../../errors/AccessDenied.ts"
import { ConsistencyViolation } from "../../errors/ConsistencyViolation.ts"
import { DeadlineExceeded } from "../../errors/DeadlineExceeded.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { MaximumAppendSizeExceeded } from "../../errors/MaximumAppendSizeExceeded.ts"
import { MaximumSubscribersReached } from "../../errors/MaximumSubscribersReached.ts"
import { NodeIsNotLeader } from "../../errors/NodeIsNotLeader.ts"
import { NotFound } from "../../errors/NotFound.ts"
import { ProjectionAlreadyExists } from "../../errors/ProjectionAlreadyExists.ts"
import { ProjectionNotFound } from "../../errors/ProjectionNotFound.ts"
import { ProjectionWrongState } from "../../errors/ProjectionWrongState.ts"
import { ScavengeNotFound } from "../../errors/ScavengeNotFound.ts"
import { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import { StreamDeleted } from "../../errors/StreamDeleted.ts"
import { SubscriptionAlreadyExists } from "../../errors/SubscriptionAlreadyExists.ts"
import { SubscriptionDropped } from "../../errors/SubscriptionDropped.ts"
import { SubscriptionNotFound } from "../../errors/SubscriptionNotFound.ts"
import { TlsFailed } from "../../errors/TlsFailed.ts"
import { Unauthenticated } from "../../errors/Unauthenticated.ts"
import { UserAlreadyExists } from "../../errors/UserAlreadyExists.ts"
import { UserNotFound } from "../../errors/UserNotFound.ts"
import { WrongCurrentVersion } from "../../errors/WrongCurrentVersion.ts"
import { Any } from "../../generated/google/protobuf/any.ts"
import { ErrorInfo } from "../../generated/google/rpc/error_details.ts"
import { NotLeaderNodeErrorDetails } from "../../generated/kurrent/rpc/errors.ts"
import * as V2Errors from "../../generated/kurrentdb/protocol/v2/streams/errors.ts"
import * as Shared from "../../generated/shared.ts"
import { ProtoReader } from "../../wire/ProtoWire.ts"
import type { Status } from "../../generated/status.ts"
import type { CallError } from "./CallError.ts"
import {
  type GrpcFailure,
  isGrpcFailure,
  StatusCode,
  toTrailers,
  trailer,
  type Trailers
} from "./grpcStatus.ts"

export type { GrpcFailure } from "./grpcStatus.ts"

/**
 * Every error {@link classifyError} and {@link classifyRpcStatus} can return.
 *
 * @since 0.1.0
 * @category models
 */
export type EsdbError =
  | WrongCurrentVersion
  | ConsistencyViolation
  | NotFound
  | StreamDeleted
  | NodeIsNotLeader
  | AccessDenied
  | Unauthenticated
  | DeadlineExceeded
  | ServiceUnavailable
  | MaximumAppendSizeExceeded
  | InvalidArgument
  | TlsFailed
  | SubscriptionNotFound
  | SubscriptionAlreadyExists
  | MaximumSubscribersReached
  | SubscriptionDropped
  | ProjectionNotFound
  | ProjectionAlreadyExists
  | ProjectionWrongState
  | UserNotFound
  | UserAlreadyExists
  | ScavengeNotFound
  | GrpcError

/**
 * What the caller knows about the failed call. `stream`, `group` and `projection` name what the
 * call was about when the server's trailers and text do not; `expected` is the expected state
 * the write sent, used for a WrongCurrentVersion whose `expected-version` trailer is missing or
 * unreadable.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClassifyContext {
  readonly stream?: string | undefined
  readonly expected?: StreamState | undefined
  /** The persistent-subscription group the call was about. */
  readonly group?: string | undefined
  /** The projection the call was about. */
  readonly projection?: string | undefined
  /** The user (login name) the call was about. */
  readonly loginName?: string | undefined
  /** The scavenge the call was about (StopScavenge). */
  readonly scavengeId?: string | undefined
}

/**
 * What BatchAppend knows about the write an in-band status answers.
 *
 * @since 0.1.0
 * @category models
 */
export interface RpcStatusContext {
  readonly stream: string
  readonly expected?: StreamState | undefined
}

const UINT64_MAX = (1n << 64n) - 1n

const esdbErrorClasses = [
  WrongCurrentVersion,
  ConsistencyViolation,
  NotFound,
  StreamDeleted,
  NodeIsNotLeader,
  AccessDenied,
  Unauthenticated,
  DeadlineExceeded,
  ServiceUnavailable,
  MaximumAppendSizeExceeded,
  InvalidArgument,
  TlsFailed,
  SubscriptionNotFound,
  SubscriptionAlreadyExists,
  MaximumSubscribersReached,
  SubscriptionDropped,
  ProjectionNotFound,
  ProjectionAlreadyExists,
  ProjectionWrongState,
  UserNotFound,
  UserAlreadyExists,
  ScavengeNotFound,
  GrpcError
] as const

/**
 * True for values that already are one of the {@link EsdbError} classes.
 *
 * @since 0.1.0
 * @category guards
 */
export const isEsdbError = (u: unknown): u is EsdbError => esdbErrorClasses.some((C) => u instanceof C)

// ---------------------------------------------------------------------------------------------
// value parsing

const parseInteger = (text: string | undefined): bigint | undefined => {
  if (text === undefined) return undefined
  const t = text.trim()
  return /^-?\d+$/.test(t) ? BigInt(t) : undefined
}

// expected-version trailer: internal ExpectedVersion (-1 NoStream, -2 Any, -4 StreamExists) or
// an exact revision. Anything else (other negatives, > uint64, not a number) is unreadable.
const parseExpected = (text: string | undefined): StreamState | undefined => {
  const v = parseInteger(text)
  if (v === undefined) return undefined
  if (v === -1n) return "no_stream"
  if (v === -2n) return "any"
  if (v === -4n) return "exists"
  return v >= 0n && v <= UINT64_MAX ? v : undefined
}

// actual-version trailer: the stream's last revision, -1 / empty / absent when it has none.
// An unreadable value is treated like an absent one.
const parseActual = (text: string | undefined): "no_stream" | bigint => {
  const v = parseInteger(text)
  return v !== undefined && v >= 0n && v <= UINT64_MAX ? v : "no_stream"
}

const parsePort = (text: string | undefined): number | undefined => {
  if (text === undefined || !/^\d{1,5}$/.test(text.trim())) return undefined
  const port = Number(text.trim())
  return port >= 1 && port <= 65535 ? port : undefined
}

const streamInDetails = /^Event stream '(.*)' (?:was not created|is not found|is deleted)\.$/s

const streamName = (trailers: Trailers, details: string, context: ClassifyContext | undefined): string =>
  trailer(trailers, "stream-name") ?? context?.stream ?? streamInDetails.exec(details)?.[1] ?? ""

const notLeader = (trailers: Trailers): NodeIsNotLeader => {
  const host = trailer(trailers, "leader-endpoint-host")?.trim()
  const port = parsePort(trailer(trailers, "leader-endpoint-port"))
  return host !== undefined && host !== "" && port !== undefined
    ? new NodeIsNotLeader({ leader: { host, port } })
    : new NodeIsNotLeader({})
}

const toGrpcError = (code: number, details: string, trailers: Trailers): GrpcError =>
  new GrpcError({
    code,
    details,
    metadata: Object.fromEntries(Object.entries(trailers).map(([k, v]) => [k, [...v]]))
  })

const unavailable = (reason: string, cause: unknown): ServiceUnavailable =>
  new ServiceUnavailable({ reason: reason === "" ? "Service unavailable" : reason, cause })

const describeThrown = (u: unknown): string => {
  if (u instanceof Error) return u.message === "" ? u.name : u.message
  try {
    return String(u)
  } catch {
    return "Unknown failure"
  }
}

// ---------------------------------------------------------------------------------------------
// classifyError: the table

/**
 * A failed call as the table sees it: status code, detail text, trailers (normalised), the value
 * of the `exception` trailer, and what the caller knows ({@link ClassifyContext}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure {
  readonly code: number
  readonly details: string
  readonly trailers: Trailers
  readonly exception: string | undefined
  readonly context: ClassifyContext | undefined
  /** The v2 APIs' error (`grpc-status-details-bin`: its ErrorInfo and typed details), if any. */
  readonly v2?: V2Error | undefined
}

/**
 * A v2 API error as `grpc-status-details-bin` carries it: the `ErrorInfo` reason and domain, and
 * the typed details that follow it.
 *
 * @since 0.1.0
 * @category models
 */
export interface V2Error {
  readonly reason: string
  readonly domain: string
  readonly details: Any | undefined
}

/**
 * Reads the v2 error of a failure's trailers: the `google.rpc.Status` of
 * `grpc-status-details-bin`, its `ErrorInfo` and the details after it. Undefined when absent or
 * unreadable.
 *
 * @since 0.1.0
 * @category parsing
 */
export const v2ErrorOf = (trailers: Trailers): V2Error | undefined => {
  const text = trailer(trailers, "grpc-status-details-bin")
  if (text === undefined) return undefined
  try {
    const reader = new ProtoReader(Buffer.from(text, "base64"))
    const anys: Array<Any> = []
    while (reader.pos < reader.buf.length) {
      const tag = reader.varint()
      if (tag >>> 3 === 3 && (tag & 7) === 2) anys.push(Any.decode(reader.bytes()))
      else reader.skip(tag & 7)
    }
    const at = anys.findIndex((a) => a.typeUrl.endsWith("/google.rpc.ErrorInfo"))
    if (at < 0) return undefined
    const info = ErrorInfo.decode(anys[at]!.value)
    const details = anys.find((a, i) => i !== at && !a.typeUrl.endsWith("/google.rpc.RetryInfo"))
    return { reason: info.reason, domain: info.domain, details }
  } catch {
    return undefined
  }
}

/**
 * One row of the classification table: what a failure must show — an `exception` trailer
 * (exactly, or by prefix when it ends with `*`), a status code among `status`, detail text
 * matching `details` (its match is handed to `to`) — and the error it becomes. A row that names
 * no `exception` matches failures with or without one, unless `noException` is set. The first
 * row that matches wins.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rule {
  /** The v2 error's ErrorInfo reason (`grpc-status-details-bin`). */
  readonly reason?: string | undefined
  readonly exception?: string | undefined
  readonly noException?: boolean | undefined
  readonly status?: ReadonlyArray<number> | undefined
  readonly details?: RegExp | undefined
  readonly to: (failure: Failure, match: RegExpExecArray | undefined) => EsdbError
}

const raw = (f: Failure): GrpcError => toGrpcError(f.code, f.details, f.trailers)

const stream = (f: Failure): string => streamName(f.trailers, f.details, f.context)

/** The group named by the trailers, else the one the call was about. */
const groupOf = (f: Failure) => ({
  stream: trailer(f.trailers, "stream-name") ?? f.context?.stream ?? "",
  group: trailer(f.trailers, "group-name") ?? f.context?.group ?? ""
})

const loginOf = (f: Failure): string => trailer(f.trailers, "login-name") ?? f.context?.loginName ?? ""

const projection = (f: Failure, match?: RegExpExecArray): string => match?.[1] ?? f.context?.projection ?? ""

const maximumAppendSize = (key: string) => (f: Failure): MaximumAppendSizeExceeded => {
  const maximum = parseInteger(trailer(f.trailers, key))
  return maximum !== undefined && maximum >= 0n && maximum <= BigInt(Number.MAX_SAFE_INTEGER)
    ? new MaximumAppendSizeExceeded({ reason: f.details, maximum: Number(maximum) })
    : new MaximumAppendSizeExceeded({ reason: f.details })
}

const invalid = (f: Failure): InvalidArgument => new InvalidArgument({ reason: f.details })

const invalidV2 = (f: Failure): InvalidArgument => new InvalidArgument({ reason: f.details })

/** The v2 error's typed details, decoded; undefined when absent or undecodable. */
const v2Details = <T>(f: Failure, codec: { decode(bytes: Uint8Array): T }): T | undefined => {
  const any = f.v2?.details
  if (any === undefined) return undefined
  try {
    return codec.decode(any.value)
  } catch {
    return undefined
  }
}

// v2 expected revision: -1 no stream, -2 any, -4 exists, ≥ 0 a revision
const v2Expected = (value: bigint): StreamState =>
  value === -1n ? "no_stream" : value === -4n ? "exists" : value >= 0n ? value : "any"

const v2Checked = (value: bigint) =>
  value === -1n
    ? "no_stream" as const
    : value === -2n
    ? "any" as const
    : value === -4n
    ? "exists" as const
    : value === -5n
    ? "deleted" as const
    : value === -6n
    ? "tombstoned" as const
    : value

const v2Actual = (value: bigint) =>
  value === -5n ? "deleted" as const : value === -6n ? "tombstoned" as const : value < 0n ? "no_stream" as const : value

// certificate verification failures as Node's TLS reports them (OpenSSL's X509 verify errors)
const certificateFailure =
  /self[- ]signed certificate|unable to verify the first certificate|unable to get (?:local )?issuer certificate|certificate has expired|certificate is not yet valid|certificate signature failure|hostname\/ip does not match certificate|err_tls_cert_altname_invalid/i

// a TLS client talking to a plaintext server (or the reverse)
const protocolMismatch = /wrong version number|packet length too long|http\/1\.1 header/i

const S = StatusCode

/**
 * The classification table (PROTOCOL.md §2, §5, §7; grpc-js's own statuses; the official
 * client's remaps), in the order it is read.
 *
 * @since 0.1.0
 * @category classification
 */
export const rules: ReadonlyArray<Rule> = [
  // the v2 APIs' errors (PROTOCOL.md §9): ErrorInfo reason + typed details
  {
    reason: "STREAM_REVISION_CONFLICT",
    to: (f) => {
      const d = v2Details(f, V2Errors.StreamRevisionConflictErrorDetails)
      return new WrongCurrentVersion({
        stream: d?.stream || (f.context?.stream ?? ""),
        expected: d === undefined ? f.context?.expected ?? "any" : v2Expected(d.expectedRevision),
        actual: d === undefined || d.actualRevision < 0n ? "no_stream" : d.actualRevision
      })
    }
  },
  {
    reason: "STREAM_TOMBSTONED",
    to: (f) => new StreamDeleted({ stream: v2Details(f, V2Errors.StreamTombstonedErrorDetails)?.stream || (f.context?.stream ?? "") })
  },
  {
    reason: "STREAM_DELETED",
    to: (f) => new StreamDeleted({ stream: v2Details(f, V2Errors.StreamDeletedErrorDetails)?.stream || (f.context?.stream ?? "") })
  },
  {
    reason: "STREAM_NOT_FOUND",
    to: (f) => new NotFound({ stream: v2Details(f, V2Errors.StreamNotFoundErrorDetails)?.stream || (f.context?.stream ?? "") })
  },
  {
    reason: "APPEND_RECORD_SIZE_EXCEEDED",
    to: (f) => new MaximumAppendSizeExceeded({ reason: f.details, maximum: v2Details(f, V2Errors.AppendRecordSizeExceededErrorDetails)?.maxSize })
  },
  {
    reason: "APPEND_TRANSACTION_SIZE_EXCEEDED",
    to: (f) =>
      new MaximumAppendSizeExceeded({ reason: f.details, maximum: v2Details(f, V2Errors.AppendTransactionSizeExceededErrorDetails)?.maxSize })
  },
  {
    reason: "APPEND_CONSISTENCY_VIOLATION",
    to: (f) =>
      new ConsistencyViolation({
        violations: (v2Details(f, V2Errors.AppendConsistencyViolationErrorDetails)?.violations ?? []).flatMap((v) =>
          v.type?.$case === "streamState"
            ? [{
              checkIndex: v.checkIndex,
              stream: v.type.value.stream,
              expected: v2Checked(v.type.value.expectedState),
              actual: v2Actual(v.type.value.actualState)
            }]
            : []
        )
      })
  },
  { reason: "STREAM_ALREADY_IN_APPEND_SESSION", to: invalidV2 },
  { reason: "APPEND_SESSION_NO_REQUESTS", to: invalidV2 },
  { reason: "BAD_REQUEST", to: invalidV2 },
  { reason: "ACCESS_DENIED", to: (f) => new AccessDenied({ reason: f.details }) },
  { reason: "OPERATION_TIMEOUT", to: (f) => new DeadlineExceeded({ reason: f.details }) },
  {
    reason: "NOT_LEADER_NODE",
    to: (f) => {
      const leader = v2Details(f, NotLeaderNodeErrorDetails)?.currentLeader
      return leader !== undefined && leader.host !== "" && leader.port > 0 && leader.port <= 65535
        ? new NodeIsNotLeader({ leader: { host: leader.host, port: leader.port } })
        : new NodeIsNotLeader({})
    }
  },
  // errors the node names in the `exception` trailer
  { exception: "not-leader", to: (f) => notLeader(f.trailers) },
  { exception: "stream-not-found", to: (f) => new NotFound({ stream: stream(f) }) },
  { exception: "stream-deleted", to: (f) => new StreamDeleted({ stream: stream(f) }) },
  {
    exception: "wrong-expected-version",
    to: (f) =>
      new WrongCurrentVersion({
        stream: stream(f),
        expected: parseExpected(trailer(f.trailers, "expected-version")) ?? f.context?.expected ?? "any",
        actual: parseActual(trailer(f.trailers, "actual-version"))
      })
  },
  { exception: "access-denied", to: (f) => new AccessDenied({ reason: f.details }) },
  { exception: "maximum-append-size-exceeded", to: maximumAppendSize("maximum-append-size") },
  { exception: "maximum-append-event-size-exceeded", to: maximumAppendSize("maximum-append-event-size") },
  { exception: "missing-required-metadata-property", to: invalid },
  { exception: "missing-required-property", to: invalid },
  { exception: "invalid-transaction", to: invalid },
  { exception: "persistent-subscription-does-not-exist", to: (f) => new SubscriptionNotFound(groupOf(f)) },
  { exception: "persistent-subscription-exists", to: (f) => new SubscriptionAlreadyExists(groupOf(f)) },
  { exception: "maximum-subscribers-reached", to: (f) => new MaximumSubscribersReached(groupOf(f)) },
  {
    exception: "persistent-subscription-dropped",
    to: (f) => new SubscriptionDropped({ ...groupOf(f), reason: f.details })
  },
  // the node refused the group's settings or start position (INTERNAL, but not a fault)
  {
    exception: "persistent-subscription-failed",
    to: (f) => new InvalidArgument({ reason: trailer(f.trailers, "reason") ?? f.details })
  },
  // users (G/Users.cs HandleErrors): NotFound; Conflict (FAILED_PRECONDITION "Conflict."); TryAgain
  // (the same exception with DEADLINE_EXCEEDED "Try again.": the user's write timed out)
  { exception: "user-not-found", to: (f) => new UserNotFound({ loginName: loginOf(f) }) },
  { exception: "user-conflict", status: [S.DEADLINE_EXCEEDED], to: (f) => new DeadlineExceeded({ reason: f.details }) },
  { exception: "user-conflict", to: (f) => new UserAlreadyExists({ loginName: loginOf(f) }) },
  // StopScavenge of an id that is not running: `scavenge-id` names the running one (or is empty)
  {
    exception: "scavenge-not-found",
    to: (f) => {
      const running = trailer(f.trailers, "scavenge-id")
      return new ScavengeNotFound({
        scavengeId: f.context?.scavengeId ?? "",
        running: running === undefined || running === "" ? undefined : running
      })
    }
  },
  // errors of services without typed errors yet: kept whole
  { exception: "index-not-found", to: raw },
  { exception: "redaction-*", to: raw },
  // statuses (an unknown `exception` value falls through to these)
  { status: [S.UNAUTHENTICATED], to: (f) => new Unauthenticated({ reason: f.details }) },
  { status: [S.PERMISSION_DENIED], to: (f) => new AccessDenied({ reason: f.details }) },
  { status: [S.DEADLINE_EXCEEDED], to: (f) => new DeadlineExceeded({ reason: f.details }) },
  {
    status: [S.UNAVAILABLE],
    details: certificateFailure,
    to: (f) =>
      new TlsFailed({
        reason: `The node's TLS certificate could not be verified (${f.details}). Give the CA that signed it ` +
          `(TlsCaFile=<path> in the connection string, or the rootCertificates option), or, for a development ` +
          `node only, set TlsVerifyCert=false`
      })
  },
  {
    status: [S.UNAVAILABLE],
    details: protocolMismatch,
    to: (f) =>
      new TlsFailed({
        reason: `The node does not speak the transport the connection string asks for (${f.details}): ` +
          `use tls=true for a secure node, tls=false for an insecure one`
      })
  },
  { status: [S.UNAVAILABLE], to: (f) => unavailable(f.details, raw(f)) },
  { status: [S.ABORTED], details: /^Operation timed out/, to: (f) => new DeadlineExceeded({ reason: f.details }) },
  { status: [S.INVALID_ARGUMENT], to: invalid },
  { status: [S.NOT_FOUND], details: /^Leader info available$/, to: (f) => notLeader(f.trailers) },
  {
    status: [S.NOT_FOUND],
    details: /^Projection '(.*)' not found/s,
    to: (f, m) => new ProjectionNotFound({ name: projection(f, m) })
  },
  {
    status: [S.NOT_FOUND],
    details: /^Event stream '(.*)' (?:was not created|is not found)\.$/s,
    to: (f, m) => new NotFound({ stream: trailer(f.trailers, "stream-name") ?? m?.[1] ?? "" })
  },
  // projections: a duplicate name (after v26.1 ALREADY_EXISTS; released versions an envelope
  // Conflict), a delete of a projection not stopped or faulted, a subsystem not ready to restart
  { status: [S.ALREADY_EXISTS], noException: true, to: (f) => new ProjectionAlreadyExists({ name: projection(f) }) },
  {
    status: [S.UNKNOWN],
    details: /received Conflict instead/,
    to: (f) => new ProjectionAlreadyExists({ name: projection(f) })
  },
  {
    status: [S.UNKNOWN],
    details: /received OperationFailed instead/,
    to: (f) =>
      new ProjectionWrongState({
        name: projection(f),
        reason: "The projection is not in a state that allows this operation: it must be stopped or faulted to be deleted"
      })
  },
  {
    status: [S.FAILED_PRECONDITION],
    details: /^Projection Subsystem cannot be restarted as it is in the wrong state/,
    to: (f) => new ProjectionWrongState({ name: "", reason: f.details })
  },
  { status: [S.UNKNOWN], details: /^No leader info available/, to: () => new NodeIsNotLeader({}) },
  // like the official Node client, remapped so that the call fails over / the read resumes
  {
    status: [S.UNKNOWN],
    details: /client error \(Connect\)|write after end/,
    to: (f) => unavailable(f.details, raw(f))
  },
  // grpc-js's own codec failures are deterministic: sending the same bytes again fails again
  {
    status: [S.INTERNAL, S.DATA_LOSS],
    details: /^(?:Request message serialization failure|Response message parsing error)/,
    to: raw
  },
  { status: [S.INTERNAL, S.DATA_LOSS], to: (f) => unavailable(f.details, raw(f)) },
  // the node cancelled the call (a node shutting down: RST_STREAM CANCEL, which grpc-js reports as
  // "Call cancelled", or a CANCELLED status of its own), not the client ("Cancelled on client")
  {
    status: [S.CANCELLED],
    noException: true,
    details: /^(?!Cancelled on client$)/,
    to: (f) => unavailable(f.details === "" ? "The node cancelled the call" : f.details, raw(f))
  }
]

const matches = (rule: Rule, f: Failure): RegExpExecArray | undefined | false => {
  if (rule.reason !== undefined && f.v2?.reason !== rule.reason) return false
  if (rule.exception !== undefined) {
    if (f.exception === undefined) return false
    const wanted = rule.exception
    if (wanted.endsWith("*") ? !f.exception.startsWith(wanted.slice(0, -1)) : f.exception !== wanted) return false
  } else if (rule.noException === true && f.exception !== undefined) return false
  if (rule.status !== undefined && !rule.status.includes(f.code)) return false
  if (rule.details === undefined) return undefined
  return rule.details.exec(f.details) ?? false
}

/**
 * Maps a failed gRPC call to a typed error by the {@link rules} table.
 *
 * **Details**
 * - A value that already is an {@link EsdbError} is returned unchanged.
 * - A value without a numeric `code` and string `details` (a thrown `Error`, e.g. grpc-js's
 *   "Channel has been shut down" when starting a call) becomes `ServiceUnavailable` with the
 *   value kept as `cause`: such throws happen before any request reaches a node.
 * - Otherwise the first row of {@link rules} that matches decides; no row: GrpcError with the
 *   code, the details and every trailer as a string list (`-bin` values base64).
 * - Names come from the trailers (`stream-name`, `group-name`), then the detail text, then the
 *   context (the stream, group or projection the call was about), else `""`.
 *
 * Every ServiceUnavailable built from a gRPC status carries that status as a `GrpcError`
 * `cause`; {@link isRetryable} reads it.
 *
 * **Gotchas**
 * - A garbage `expected-version` does not lose the error: it stays WrongCurrentVersion with
 *   `expected` = `context.expected`, else `"any"`.
 *
 * @since 0.1.0
 * @category classification
 */
export const classifyError = (failure: unknown, context?: ClassifyContext): EsdbError => {
  if (isEsdbError(failure)) return failure
  if (!isGrpcFailure(failure)) return unavailable(describeThrown(failure), failure)
  const trailers = toTrailers(failure.metadata)
  const f: Failure = {
    code: failure.code,
    details: failure.details,
    trailers,
    exception: trailer(trailers, "exception"),
    context,
    v2: v2ErrorOf(trailers)
  }
  for (const rule of rules) {
    const match = matches(rule, f)
    if (match !== false) return rule.to(f, match)
  }
  return raw(f)
}

/**
 * True when the failure is a connection that could not be made at all (grpc-js: "No connection
 * established"): the transport then checks whether the node speaks TLS.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isConnectFailure = (error: { readonly _tag: string }): boolean =>
  error instanceof ServiceUnavailable && error.cause instanceof GrpcError &&
  error.cause.code === StatusCode.UNAVAILABLE && /no connection established/i.test(error.cause.details)

// ---------------------------------------------------------------------------------------------
// classifyRpcStatus (BatchAppend in-band errors)

const typeName = (typeUrl: string): string => typeUrl.slice(typeUrl.lastIndexOf("/") + 1)

const wrongVersionFrom = (details: Shared.WrongExpectedVersion, context: RpcStatusContext): WrongCurrentVersion => {
  const e = details.expectedStreamPositionOption
  const expected: StreamState | undefined = e === undefined
    ? undefined
    : e.$case === "expectedStreamPosition"
    ? e.value
    : e.$case === "expectedAny"
    ? "any"
    : e.$case === "expectedNoStream"
    ? "no_stream"
    : "exists"
  const c = details.currentStreamRevisionOption
  // The node sends StreamRevision.End (2^64−1, "no revision") as currentNoStream; a raw
  // 2^64−1 revision means the same.
  const actual = c?.$case === "currentStreamRevision" && c.value !== UINT64_MAX ? c.value : "no_stream"
  return new WrongCurrentVersion({ stream: context.stream, expected: expected ?? context.expected ?? "any", actual })
}

const sizeReason = (maximum: number): string => `Maximum Append Size of ${maximum} Exceeded.`

const byDetails = (status: Status, context: RpcStatusContext): EsdbError | undefined => {
  const any = status.details
  if (any === undefined) return undefined
  const value = any.value
  switch (typeName(any.typeUrl)) {
    case "event_store.client.WrongExpectedVersion":
      return wrongVersionFrom(Shared.WrongExpectedVersion.decode(value), context)
    case "event_store.client.StreamDeleted": {
      const name = Shared.StreamDeleted.decode(value).streamIdentifier?.streamName.toString("utf8")
      return new StreamDeleted({ stream: name === undefined || name === "" ? context.stream : name })
    }
    case "event_store.client.AccessDenied":
      return new AccessDenied({ reason: `Access denied to stream '${context.stream}'` })
    case "event_store.client.Timeout":
      return timeout(context)
    case "event_store.client.Unknown":
      return new GrpcError({ code: status.code, details: status.message || "Unknown", metadata: {} })
    case "event_store.client.MaximumAppendSizeExceeded": {
      const { maxAppendSize } = Shared.MaximumAppendSizeExceeded.decode(value)
      return new MaximumAppendSizeExceeded({ reason: sizeReason(maxAppendSize), maximum: maxAppendSize })
    }
    case "event_store.client.MaximumAppendEventSizeExceeded": {
      const d = Shared.MaximumAppendEventSizeExceeded.decode(value)
      return new MaximumAppendSizeExceeded({
        reason: `Event with Id: ${d.eventId}, Size: ${d.proposedEventSize}, exceeds Maximum Append Event Size of ${d.maxAppendEventSize}.`,
        maximum: d.maxAppendEventSize
      })
    }
    case "event_store.client.BadRequest": {
      const { message } = Shared.BadRequest.decode(value)
      return new InvalidArgument({ reason: message || status.message || "Bad request" })
    }
    case "event_store.client.InvalidTransaction":
      return new InvalidArgument({ reason: "Invalid Transaction" })
  }
  return undefined
}

const timeout = (context: RpcStatusContext): DeadlineExceeded =>
  new DeadlineExceeded({ reason: `The append to stream '${context.stream}' timed out before it was committed` })

// The node names the details message in `message` (nameof); NotHandled answers carry an
// Empty detail, status code 0 and a readable message.
const byMessageOrCode = (status: Status, context: RpcStatusContext): EsdbError => {
  const message = status.message
  switch (message) {
    case "WrongExpectedVersion":
      return new WrongCurrentVersion({ stream: context.stream, expected: context.expected ?? "any", actual: "no_stream" })
    case "StreamDeleted":
      return new StreamDeleted({ stream: context.stream })
    case "AccessDenied":
      return new AccessDenied({ reason: `Access denied to stream '${context.stream}'` })
    case "Timeout":
      return timeout(context)
    case "MaximumAppendSizeExceeded":
    case "MaximumAppendEventSizeExceeded":
      return new MaximumAppendSizeExceeded({ reason: message })
    case "BadRequest":
      return new InvalidArgument({ reason: "Bad request" })
    case "InvalidTransaction":
      return new InvalidArgument({ reason: "Invalid Transaction" })
    case "Server Is Not Ready":
    case "Server Is Busy":
    case "Server Is Too Busy":
      return unavailable(message, status)
  }
  if (message.startsWith("No leader info available")) return new NodeIsNotLeader({})
  switch (status.code) {
    case StatusCode.ALREADY_EXISTS:
      return new WrongCurrentVersion({ stream: context.stream, expected: context.expected ?? "any", actual: "no_stream" })
    case StatusCode.NOT_FOUND:
      return new StreamDeleted({ stream: context.stream })
    case StatusCode.PERMISSION_DENIED:
      return new AccessDenied({ reason: message || `Access denied to stream '${context.stream}'` })
    case StatusCode.DEADLINE_EXCEEDED:
      return timeout(context)
    case StatusCode.INVALID_ARGUMENT:
      return new InvalidArgument({ reason: message || "Invalid argument" })
    case StatusCode.UNAUTHENTICATED:
      return new Unauthenticated({ reason: message })
    case StatusCode.UNAVAILABLE:
      return unavailable(message, status)
  }
  return new GrpcError({ code: status.code, details: message, metadata: {} })
}

/**
 * Maps BatchAppend's in-band `google.rpc.Status` (the `error` case of `BatchAppendResp`) to a
 * typed error.
 *
 * **Details**
 * - The `details` Any is decoded with the generated shared.proto codecs, by the last segment
 *   of its `type_url`: `event_store.client.WrongExpectedVersion` → WrongCurrentVersion
 *   (expected from the expected oneof, actual from the current oneof; currentNoStream →
 *   "no_stream"), `StreamDeleted` → StreamDeleted (name from its identifier, else
 *   `context.stream`), `AccessDenied` → AccessDenied, `Timeout` → DeadlineExceeded,
 *   `Unknown` → GrpcError, `MaximumAppendSizeExceeded` / `MaximumAppendEventSizeExceeded` →
 *   MaximumAppendSizeExceeded with its maximum, `BadRequest` / `InvalidTransaction` →
 *   InvalidArgument.
 * - Absent, unknown or undecodable details fall back on the status `message` (the node writes
 *   the details' type name there, or "Server Is Not Ready" / "Server Is Busy" / "No leader
 *   info available in response" with an `Empty` detail) and then on the status code
 *   (ALREADY_EXISTS → WrongCurrentVersion, NOT_FOUND → StreamDeleted, PERMISSION_DENIED →
 *   AccessDenied, DEADLINE_EXCEEDED → DeadlineExceeded, INVALID_ARGUMENT → InvalidArgument,
 *   UNAVAILABLE → ServiceUnavailable, else GrpcError).
 *
 * **Gotchas**
 * - Without decodable details a WrongCurrentVersion reports `expected` from the context (else
 *   `"any"`) and `actual` `"no_stream"`: the actual revision is unknown.
 *
 * @since 0.1.0
 * @category classification
 */
export const classifyRpcStatus = (status: Status, context: RpcStatusContext): EsdbError => {
  try {
    const decoded = byDetails(status, context)
    if (decoded !== undefined) return decoded
  } catch {
    // undecodable Any value: fall back on message and code
  }
  return byMessageOrCode(status, context)
}

/**
 * Fills the names a classified error left blank (the node sent none, and the call did not pass
 * its context to the transport) with what the operation knows: the group's stream and name, the
 * projection's name. Nothing is parsed again: an error whose names are known is returned as is.
 *
 * @since 0.1.0
 * @category classification
 */
export const withContext = (error: CallError, context: ClassifyContext): CallError => {
  const stream = (known: string) => known === "" ? context.stream ?? "" : known
  const group = (known: string) => known === "" ? context.group ?? "" : known
  const name = (known: string) => known === "" ? context.projection ?? "" : known
  switch (error._tag) {
    case "SubscriptionNotFound":
      return new SubscriptionNotFound({ stream: stream(error.stream), group: group(error.group) })
    case "SubscriptionAlreadyExists":
      return new SubscriptionAlreadyExists({ stream: stream(error.stream), group: group(error.group) })
    case "MaximumSubscribersReached":
      return new MaximumSubscribersReached({ stream: stream(error.stream), group: group(error.group) })
    case "SubscriptionDropped":
      return new SubscriptionDropped({ stream: stream(error.stream), group: group(error.group), reason: error.reason })
    case "ProjectionNotFound":
      return error.name === "" ? new ProjectionNotFound({ name: name(error.name) }) : error
    case "ProjectionAlreadyExists":
      return error.name === "" ? new ProjectionAlreadyExists({ name: name(error.name) }) : error
    case "ProjectionWrongState":
      return error.name === "" ? new ProjectionWrongState({ name: name(error.name), reason: error.reason }) : error
    case "UserNotFound":
      return error.loginName === "" && context.loginName !== undefined ? new UserNotFound({ loginName: context.loginName }) : error
    case "UserAlreadyExists":
      return error.loginName === "" && context.loginName !== undefined
        ? new UserAlreadyExists({ loginName: context.loginName })
        : error
    case "ScavengeNotFound":
      return error.scavengeId === "" && context.scavengeId !== undefined
        ? new ScavengeNotFound({ scavengeId: context.scavengeId, running: error.running })
        : error
    default:
      return error
  }
}
