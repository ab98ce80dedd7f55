/**
 * Builders for the gRPC failures the embedded node answers with: status code, detail text and
 * trailers (`exception`, `stream-name`, ...) exactly as a real EventStoreDB/KurrentDB node sends them.
 *
 * @since 0.1.0
 */
import { Code } from "../generated/code.ts"
import { Any } from "../generated/google/protobuf/any.ts"
import { Duration } from "../generated/google/protobuf/duration.ts"
import { writeVarint, varintSize } from "../wire/ProtoWire.ts"
import { Trailers } from "./transport/Trailers.ts"

/** gRPC status codes (google.rpc.Code). */
const Status = Code

/**
 * A failure ready to hand to a unary callback or `call.sendStatus(...)` (src/server/transport/ServerCall.ts);
 * its `metadata` becomes trailers.
 *
 * @since 0.1.0
 * @category models
 */
export class RpcFailure extends Error {
  /** The gRPC status code. */
  readonly code: Code
  /** The status message (`grpc-message`). */
  readonly details: string
  /** Trailers sent with the status. */
  readonly metadata: Trailers
  constructor(code: Code, details: string, metadata: Trailers) {
    super(details)
    this.code = code
    this.details = details
    this.metadata = metadata
  }
}

const make = (code: Code, details: string, trailers?: Record<string, string>): RpcFailure => {
  const metadata = new Trailers()
  if (trailers !== undefined) {
    for (const key of Object.keys(trailers)) metadata.set(key, trailers[key] ?? "")
  }
  return new RpcFailure(code, details, metadata)
}

/**
 * Whether `u` is an {@link RpcFailure}.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRpcFailure = (u: unknown): u is RpcFailure => u instanceof RpcFailure

/**
 * Any status with optional trailers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rpcFailure = make

/**
 * `stream-deleted`: FAILED_PRECONDITION "Event stream 'x' is deleted.".
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamDeleted = (stream: string): RpcFailure =>
  make(Status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, { exception: "stream-deleted", "stream-name": stream })

/**
 * `stream-not-found`: NOT_FOUND "Event stream 'x' is not found.".
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamNotFound = (stream: string): RpcFailure =>
  make(Status.NOT_FOUND, `Event stream '${stream}' is not found.`, { exception: "stream-not-found", "stream-name": stream })

/**
 * `wrong-expected-version`: FAILED_PRECONDITION with `stream-name`, `expected-version`, `actual-version`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const wrongExpectedVersion = (
  operation: string,
  stream: string,
  expected: bigint | number,
  actual: bigint | number | undefined
): RpcFailure =>
  make(
    Status.FAILED_PRECONDITION,
    `${operation} failed due to WrongExpectedVersion. Stream: ${stream}, Expected version: ${expected}, Actual version: ${actual ?? ""}`,
    {
      exception: "wrong-expected-version",
      "stream-name": stream,
      "expected-version": String(expected),
      "actual-version": actual === undefined ? "" : String(actual)
    }
  )

/**
 * `access-denied`: PERMISSION_DENIED "Access Denied".
 *
 * @since 0.1.0
 * @category constructors
 */
export const accessDenied = (): RpcFailure => make(Status.PERMISSION_DENIED, "Access Denied", { exception: "access-denied" })

/**
 * Bad credentials: UNAUTHENTICATED "Unauthenticated" without trailers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unauthenticated = (): RpcFailure => make(Status.UNAUTHENTICATED, "Unauthenticated")

/**
 * INVALID_ARGUMENT with a free text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const invalidArgument = (message: string): RpcFailure => make(Status.INVALID_ARGUMENT, message)

/**
 * INVALID_ARGUMENT "'name' is a required argument of type T".
 *
 * @since 0.1.0
 * @category constructors
 */
export const requiredArgument = (name: string, type: string): RpcFailure =>
  make(Status.INVALID_ARGUMENT, `'${name}' is a required argument of type ${type}`)

/**
 * INVALID_ARGUMENT "'value' is not a valid T".
 *
 * @since 0.1.0
 * @category constructors
 */
export const invalidArgumentOf = (value: string, type: string): RpcFailure =>
  make(Status.INVALID_ARGUMENT, `'${value}' is not a valid ${type}`)

/**
 * INVALID_ARGUMENT "The combination of (...) is invalid.".
 *
 * @since 0.1.0
 * @category constructors
 */
export const invalidCombination = (parts: ReadonlyArray<string>): RpcFailure =>
  make(Status.INVALID_ARGUMENT, `The combination of (${parts.join(", ")}) is invalid.`)

/**
 * `maximum-append-size-exceeded`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const maximumAppendSizeExceeded = (max: number): RpcFailure =>
  make(Status.INVALID_ARGUMENT, `Maximum Append Size of ${max} Exceeded.`, {
    exception: "maximum-append-size-exceeded",
    "maximum-append-size": String(max)
  })

/**
 * `maximum-append-event-size-exceeded`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const maximumAppendEventSizeExceeded = (eventId: string, size: number, max: number): RpcFailure =>
  make(Status.INVALID_ARGUMENT, `Event with Id: ${eventId}, Size: ${size}, exceeds Maximum Append Event Size of ${max}.`, {
    exception: "maximum-append-event-size-exceeded",
    "maximum-append-event-size": String(max),
    "event-id": eventId,
    "proposed-append-event-size": String(size)
  })

/**
 * `missing-required-metadata-property` (`type` or `content-type` missing on an appended event).
 *
 * @since 0.1.0
 * @category constructors
 */
export const missingRequiredMetadataProperty = (property: string): RpcFailure =>
  make(Status.INVALID_ARGUMENT, `Required Metadata Property '${property}' is missing`, {
    exception: "missing-required-metadata-property",
    "required-metadata-properties": "type,content-type"
  })

/**
 * ABORTED "Operation timed out: ...".
 *
 * @since 0.1.0
 * @category constructors
 */
export const timeout = (message: string): RpcFailure => make(Status.ABORTED, `Operation timed out: ${message}`)

/**
 * What ASP.NET gRPC answers for an exception the handler did not map: UNKNOWN
 * "Exception was thrown by handler.".
 *
 * @since 0.1.0
 * @category constructors
 */
export const unhandled = (): RpcFailure => make(Status.UNKNOWN, "Exception was thrown by handler.")

/**
 * A write that can never be durable because the log failed (a full disk, an I/O error): UNAVAILABLE.
 * A real node's storage writer ends its process on such an error
 * (`src/KurrentDB.Core/Services/Storage/StorageWriterService.cs`: "Unexpected error in
 * StorageWriterService. Terminating the process..." then `Application.Exit(ExitCode.Error, ...)`),
 * so its clients see the connection drop: UNAVAILABLE. The embedded node answers the writes waiting
 * on the failed flush with that status and stops (EmbeddedNode.ts).
 *
 * @since 0.1.0
 * @category constructors
 */
export const logFailed = (error: Error): RpcFailure =>
  make(Status.UNAVAILABLE, `The node is stopping: its log failed (${error.message}).`)

/**
 * The error a leader's waiting writes get when it steps down or stops before the cluster committed
 * them: never acknowledged. A real leader disposes of its pending requests on leaving the Leader
 * state, each answered `CommitTimeout` (or `PrepareTimeout`) "Request canceled by server"
 * (kurrent-io/KurrentDB `src/KurrentDB.Core/Services/RequestManager/RequestManagementService.cs`
 * `Handle(StateChangeMessage)`, `Managers/RequestManagerBase.cs` `Dispose`), which the gRPC
 * handlers answer as a timeout: Append/Delete ABORTED "Operation timed out: Request canceled by
 * server" (`RpcExceptions.Timeout`), BatchAppend the write's `Timeout` status, its call left open.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestCanceledError extends Error {
  constructor() {
    super("Request canceled by server")
    this.name = "RequestCanceledError"
  }
}

/**
 * The failure of a write whose durability wait ended with `error`: a timeout "Request canceled by
 * server" when a cluster leader stepped down before committing it ({@link RequestCanceledError}),
 * otherwise {@link logFailed}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const writeFailed = (error: Error): RpcFailure =>
  error instanceof RequestCanceledError ? timeout(error.message) : logFailed(error)

/**
 * `not-leader` (kept for completeness; a single node is always leader).
 *
 * @since 0.1.0
 * @category constructors
 */
export const notLeader = (host: string, port: number): RpcFailure =>
  make(Status.NOT_FOUND, "Leader info available", {
    exception: "not-leader",
    "leader-endpoint-host": host,
    "leader-endpoint-port": String(port)
  })

/**
 * INVALID_ARGUMENT "Trying to read from an invalid position.".
 *
 * @since 0.1.0
 * @category constructors
 */
export const invalidPosition = (): RpcFailure => make(Status.INVALID_ARGUMENT, "Trying to read from an invalid position.")

/**
 * `persistent-subscription-failed`: INTERNAL "Subscription group g on stream s failed: 'reason'".
 *
 * @since 0.1.0
 * @category constructors
 */
export const persistentSubscriptionFailed = (stream: string, group: string, reason: string): RpcFailure =>
  make(Status.INTERNAL, `Subscription group ${group} on stream ${stream} failed: '${reason}'`, {
    exception: "persistent-subscription-failed",
    "stream-name": stream,
    "group-name": group,
    reason
  })

/**
 * `persistent-subscription-does-not-exist`: NOT_FOUND "Subscription group g on stream s does not exist.".
 *
 * @since 0.1.0
 * @category constructors
 */
export const persistentSubscriptionDoesNotExist = (stream: string, group: string): RpcFailure =>
  make(Status.NOT_FOUND, `Subscription group ${group} on stream ${stream} does not exist.`, {
    exception: "persistent-subscription-does-not-exist",
    "stream-name": stream,
    "group-name": group
  })

/**
 * `persistent-subscription-exists`: ALREADY_EXISTS "Subscription group g on stream s exists.".
 *
 * @since 0.1.0
 * @category constructors
 */
export const persistentSubscriptionExists = (stream: string, group: string): RpcFailure =>
  make(Status.ALREADY_EXISTS, `Subscription group ${group} on stream ${stream} exists.`, {
    exception: "persistent-subscription-exists",
    "stream-name": stream,
    "group-name": group
  })

/**
 * `maximum-subscribers-reached`: FAILED_PRECONDITION "Maximum subscriptions reached for
 * subscription group g on stream s.".
 *
 * @since 0.1.0
 * @category constructors
 */
export const maximumSubscribersReached = (stream: string, group: string): RpcFailure =>
  make(Status.FAILED_PRECONDITION, `Maximum subscriptions reached for subscription group ${group} on stream ${stream}.`, {
    exception: "maximum-subscribers-reached",
    "stream-name": stream,
    "group-name": group
  })

/**
 * `persistent-subscription-dropped`: CANCELLED "Subscription group g on stream s was dropped.".
 *
 * @since 0.1.0
 * @category constructors
 */
export const persistentSubscriptionDropped = (stream: string, group: string): RpcFailure =>
  make(Status.CANCELLED, `Subscription group ${group} on stream ${stream} was dropped.`, {
    exception: "persistent-subscription-dropped",
    "stream-name": stream,
    "group-name": group
  })

/** A length-delimited protobuf field (tag < 16). */
const field = (tag: number, bytes: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(1 + varintSize(bytes.length) + bytes.length)
  out[0] = (tag << 3) | 2
  const at = writeVarint(out, 1, bytes.length)
  out.set(bytes, at)
  return out
}

/** `google.rpc.Status` with `details`, encoded for the `grpc-status-details-bin` trailer. */
const richStatus = (code: Code, message: string, details: ReadonlyArray<{ readonly typeUrl: string; readonly value: Uint8Array }>): Buffer =>
  Buffer.concat([
    Buffer.from([0x08]),
    (() => {
      const b = Buffer.allocUnsafe(varintSize(code))
      writeVarint(b, 0, code)
      return b
    })(),
    field(2, Buffer.from(message, "utf8")),
    ...details.map((d) => field(3, Any.encode({ typeUrl: d.typeUrl, value: Buffer.from(d.value) }).finish()))
  ])

/** Seconds a single node suggests a client waits before retrying after it stopped. */
const SHUTDOWN_RETRY_SECONDS = 5

/**
 * The status a real node ends open streaming calls with when it stops: UNAVAILABLE "The server is
 * shutting down. Please retry after 5 seconds.", with `grpc-status-details-bin` carrying
 * `ErrorInfo { reason: "SERVER_SHUTTING_DOWN", domain: "server" }` and `RetryInfo` (5 s on a
 * single node). KurrentDB: `src/KurrentDB.Core/Services/Transport/Grpc/GrpcStreamingShutdownMiddleware.cs`
 * cancels streaming calls on ApplicationStopping, and
 * `src/KurrentDB.Api.V2/Infrastructure/Grpc/ServerShuttingDownInterceptor.cs` answers them with
 * `ApiErrors.ServerShuttingDown` (`src/KurrentDB.Api.V2/Modules/ApiErrors.cs`). A client can tell
 * it from the end of a read (OK) and retries it (UNAVAILABLE).
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverShuttingDown = (): RpcFailure => {
  const message = `The server is shutting down. Please retry after ${SHUTDOWN_RETRY_SECONDS} seconds.`
  const errorInfo = Buffer.concat([field(1, Buffer.from("SERVER_SHUTTING_DOWN")), field(2, Buffer.from("server"))])
  const retryInfo = field(1, Duration.encode({ seconds: BigInt(SHUTDOWN_RETRY_SECONDS), nanos: 0 }).finish())
  const details = richStatus(Code.UNAVAILABLE, message, [
    { typeUrl: "type.googleapis.com/google.rpc.ErrorInfo", value: errorInfo },
    { typeUrl: "type.googleapis.com/google.rpc.RetryInfo", value: retryInfo }
  ])
  return make(Code.UNAVAILABLE, message, { "grpc-status-details-bin": details.toString("base64") })
}

/**
 * A v2 API error (KurrentDB.Api.V2 `RpcExceptions.FromError`): the status, with
 * `grpc-status-details-bin` carrying `google.rpc.Status` whose details are an `ErrorInfo`
 * (`reason`, `domain`) followed by the typed details message, if any.
 *
 * @since 0.1.0
 * @category constructors
 */
export const v2Failure = (
  code: Code,
  message: string,
  reason: string,
  domain: string,
  details?: { readonly typeName: string; readonly value: Uint8Array } | undefined
): RpcFailure => {
  const errorInfo = Buffer.concat([field(1, Buffer.from(reason)), field(2, Buffer.from(domain))])
  const status = richStatus(code, message, [
    { typeUrl: "type.googleapis.com/google.rpc.ErrorInfo", value: errorInfo },
    ...(details === undefined ? [] : [{ typeUrl: `type.googleapis.com/${details.typeName}`, value: details.value }])
  ])
  return make(code, message, { "grpc-status-details-bin": status.toString("base64") })
}
