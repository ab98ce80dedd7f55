/**
 * The one place where gRPC failures become effect-esdb's typed errors.
 *
 * Two entry points:
 * - {@link classifyError} for a failed call (a grpc-js `ServiceError`: status code, detail
 *   text and trailing metadata, whose `exception` trailer names the server-side error);
 * - {@link classifyRpcStatus} for BatchAppend's in-band `google.rpc.Status`, whose `details`
 *   is an `Any` packing one of the `event_store.client.*` messages of shared.proto.
 *
 * Whether an error may be retried is decided in one place: Retry.ts.
 *
 * @since 0.1.0
 */
import type { StreamState } from "../../domain/StreamState.ts"
import { AccessDenied } from "../../errors/AccessDenied.ts"
import { DeadlineExceeded } from "../../errors/DeadlineExceeded.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { MaximumAppendSizeExceeded } from "../../errors/MaximumAppendSizeExceeded.ts"
import { NodeIsNotLeader } from "../../errors/NodeIsNotLeader.ts"
import { NotFound } from "../../errors/NotFound.ts"
import { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import { StreamDeleted } from "../../errors/StreamDeleted.ts"
import { TlsFailed } from "../../errors/TlsFailed.ts"
import { Unauthenticated } from "../../errors/Unauthenticated.ts"
import { WrongCurrentVersion } from "../../errors/WrongCurrentVersion.ts"
import * as Shared from "../../generated/shared.ts"
import type { Status } from "../../generated/status.ts"
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
  | GrpcError

/**
 * What the caller knows about the failed call. `stream` names the stream when the server's
 * trailers do not; `expected` is the expected state the write sent, used for a
 * WrongCurrentVersion whose `expected-version` trailer is missing or unreadable.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClassifyContext {
  readonly stream?: string | undefined
  readonly expected?: StreamState | undefined
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
// TLS mismatches: retrying cannot fix them, the settings must change

// certificate verification failures as Node's TLS reports them (OpenSSL's X509 verify errors)
const certificateTexts: ReadonlyArray<string> = [
  "self-signed certificate",
  "self signed certificate",
  "unable to verify the first certificate",
  "unable to get local issuer certificate",
  "unable to get issuer certificate",
  "certificate has expired",
  "certificate is not yet valid",
  "certificate signature failure",
  "hostname/ip does not match certificate",
  "err_tls_cert_altname_invalid"
]

// a TLS client talking to a plaintext server (or the reverse)
const protocolTexts: ReadonlyArray<string> = ["wrong version number", "packet length too long", "http/1.1 header"]

const tlsMismatch = (details: string): TlsFailed | undefined => {
  const text = details.toLowerCase()
  if (certificateTexts.some((t) => text.includes(t))) {
    return new TlsFailed({
      reason: `The node's TLS certificate could not be verified (${details}). Give the CA that signed it ` +
        `(TlsCaFile=<path> in the connection string, or the rootCertificates option), or, for a development ` +
        `node only, set TlsVerifyCert=false`
    })
  }
  if (protocolTexts.some((t) => text.includes(t))) {
    return new TlsFailed({
      reason: `The node does not speak the transport the connection string asks for (${details}): ` +
        `use tls=true for a secure node, tls=false for an insecure one`
    })
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// classifyError

// `exception` values that name errors outside our error set: kept whole as GrpcError.
const foreignExceptions: ReadonlyArray<string> = [
  "persistent-subscription-failed",
  "persistent-subscription-does-not-exist",
  "persistent-subscription-exists",
  "persistent-subscription-dropped",
  "maximum-subscribers-reached",
  "user-not-found",
  "user-conflict",
  "scavenge-not-found",
  "index-not-found"
]

const byException = (
  exception: string,
  failure: GrpcFailure,
  trailers: Trailers,
  context: ClassifyContext | undefined
): EsdbError | undefined => {
  const { code, details } = failure
  switch (exception) {
    case "not-leader":
      return notLeader(trailers)
    case "stream-not-found":
      return new NotFound({ stream: streamName(trailers, details, context) })
    case "stream-deleted":
      return new StreamDeleted({ stream: streamName(trailers, details, context) })
    case "wrong-expected-version":
      return new WrongCurrentVersion({
        stream: streamName(trailers, details, context),
        expected: parseExpected(trailer(trailers, "expected-version")) ?? context?.expected ?? "any",
        actual: parseActual(trailer(trailers, "actual-version"))
      })
    case "access-denied":
      return new AccessDenied({ reason: details })
    case "maximum-append-size-exceeded":
    case "maximum-append-event-size-exceeded": {
      const key = exception === "maximum-append-size-exceeded" ? "maximum-append-size" : "maximum-append-event-size"
      const maximum = parseInteger(trailer(trailers, key))
      return maximum !== undefined && maximum >= 0n && maximum <= BigInt(Number.MAX_SAFE_INTEGER)
        ? new MaximumAppendSizeExceeded({ reason: details, maximum: Number(maximum) })
        : new MaximumAppendSizeExceeded({ reason: details })
    }
    case "missing-required-metadata-property":
    case "missing-required-property":
    case "invalid-transaction":
      return new InvalidArgument({ reason: details })
  }
  if (foreignExceptions.includes(exception) || exception.startsWith("redaction-")) {
    return toGrpcError(code, details, trailers)
  }
  return undefined
}

const byStatus = (failure: GrpcFailure, trailers: Trailers): EsdbError => {
  const { code, details } = failure
  const raw = () => toGrpcError(code, details, trailers)
  switch (code) {
    case StatusCode.UNAUTHENTICATED:
      return new Unauthenticated({ reason: details })
    case StatusCode.PERMISSION_DENIED:
      return new AccessDenied({ reason: details })
    case StatusCode.DEADLINE_EXCEEDED:
      return new DeadlineExceeded({ reason: details })
    case StatusCode.UNAVAILABLE:
      return tlsMismatch(details) ?? unavailable(details, raw())
    case StatusCode.ABORTED:
      return details.startsWith("Operation timed out") ? new DeadlineExceeded({ reason: details }) : raw()
    case StatusCode.INVALID_ARGUMENT:
      return new InvalidArgument({ reason: details })
    case StatusCode.NOT_FOUND: {
      if (details === "Leader info available") return notLeader(trailers)
      const stream = streamInDetails.exec(details)?.[1]
      return stream !== undefined && !details.endsWith("is deleted.")
        ? new NotFound({ stream: trailer(trailers, "stream-name") ?? stream })
        : raw()
    }
    case StatusCode.UNKNOWN:
      if (details.startsWith("No leader info available")) return new NodeIsNotLeader({})
      return details.includes("client error (Connect)") || details.includes("write after end")
        ? unavailable(details, raw())
        : raw()
    case StatusCode.INTERNAL:
    case StatusCode.DATA_LOSS:
      // Deterministic client-side codec failures: retrying sends the same bytes again.
      return details.startsWith("Request message serialization failure") ||
          details.startsWith("Response message parsing error")
        ? raw()
        : unavailable(details, raw())
    default:
      return raw()
  }
}

/**
 * Maps a failed gRPC call to a typed error.
 *
 * **Details**
 * - A value that already is an {@link EsdbError} is returned unchanged.
 * - A value without a numeric `code` and string `details` (a thrown `Error`, e.g. grpc-js's
 *   "Channel has been shut down" when starting a call) becomes `ServiceUnavailable` with the
 *   value kept as `cause`: such throws happen before any request reaches a node.
 * - Otherwise the `exception` trailer decides first: `not-leader` → NodeIsNotLeader (leader
 *   from `leader-endpoint-host`/`-port`), `stream-not-found` → NotFound, `stream-deleted` →
 *   StreamDeleted, `wrong-expected-version` → WrongCurrentVersion (`expected-version` −1/−2/−4
 *   → no_stream/any/exists, other numbers → bigint over the whole uint64 range;
 *   `actual-version` −1, empty, absent or unreadable → "no_stream"), `access-denied` →
 *   AccessDenied, `maximum-append(-event)-size-exceeded` → MaximumAppendSizeExceeded (maximum
 *   from `maximum-append(-event)-size`), `missing-required-metadata-property` /
 *   `invalid-transaction` → InvalidArgument; persistent-subscription, user, scavenge, index
 *   and redaction exceptions → GrpcError. An unknown `exception` value falls through.
 * - Then the status code: UNAUTHENTICATED → Unauthenticated; PERMISSION_DENIED →
 *   AccessDenied; DEADLINE_EXCEEDED and ABORTED "Operation timed out…" → DeadlineExceeded;
 *   UNAVAILABLE → ServiceUnavailable; INVALID_ARGUMENT → InvalidArgument; NOT_FOUND "Leader
 *   info available" → NodeIsNotLeader, "Event stream 'x' was not created." → NotFound;
 *   UNKNOWN "No leader info available…" → NodeIsNotLeader without a leader.
 * - Like the official Node client (which remaps them so the next call fails over to another
 *   node), INTERNAL and DATA_LOSS, and UNKNOWN with `client error (Connect)` or
 *   `write after end`, become ServiceUnavailable — except grpc-js's own
 *   "Request message serialization failure" / "Response message parsing error", which are
 *   deterministic and stay GrpcError.
 * - Everything else → GrpcError with the code, the details and every trailer as a string
 *   list (`-bin` values base64).
 *
 * Every ServiceUnavailable built from a gRPC status carries that status as a `GrpcError`
 * `cause`; {@link isRetryable} reads it.
 *
 * **Gotchas**
 * - A garbage `expected-version` does not lose the error: it stays WrongCurrentVersion with
 *   `expected` = `context.expected`, else `"any"`.
 * - Stream names come from the `stream-name` trailer, then `context.stream`, then the
 *   detail text, else `""`.
 *
 * @since 0.1.0
 * @category classification
 */
export const classifyError = (failure: unknown, context?: ClassifyContext): EsdbError => {
  if (isEsdbError(failure)) return failure
  if (!isGrpcFailure(failure)) return unavailable(describeThrown(failure), failure)
  const trailers = toTrailers(failure.metadata)
  const exception = trailer(trailers, "exception")
  if (exception !== undefined) {
    const classified = byException(exception, failure, trailers, context)
    if (classified !== undefined) return classified
  }
  return byStatus(failure, trailers)
}

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
