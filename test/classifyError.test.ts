import * as grpc from "@grpc/grpc-js"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { StreamState } from "../src/domain/StreamState.ts"
import { GrpcError } from "../src/errors/GrpcError.ts"
import { ServiceUnavailable } from "../src/errors/ServiceUnavailable.ts"
import { WrongCurrentVersion } from "../src/errors/WrongCurrentVersion.ts"
import { DeleteResp, StreamsClient, StreamsService, TombstoneResp } from "../src/generated/streams.ts"
import * as Shared from "../src/generated/shared.ts"
import { Empty as ProtobufEmpty } from "../src/generated/google/protobuf/empty.ts"
import type { Status } from "../src/generated/status.ts"
import {
  classifyError,
  classifyRpcStatus,
  type EsdbError,
} from "../src/internal/transport/classifyError.ts"
import { isRetryable, isTransient } from "../src/internal/transport/Retry.ts"

// ---------------------------------------------------------------------------------------------
// helpers

type TrailerInput = Record<string, string | Buffer | ReadonlyArray<string | Buffer>>

const metadata = (trailers: TrailerInput): grpc.Metadata => {
  const m = new grpc.Metadata()
  for (const [key, value] of Object.entries(trailers)) {
    const values = Array.isArray(value) ? value : [value]
    for (const v of values as ReadonlyArray<string | Buffer>) m.add(key, v)
  }
  return m
}

// A value shaped like the grpc-js ServiceError a failed call hands to its callback.
const serviceError = (code: grpc.status, details: string, trailers: TrailerInput = {}) =>
  Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), {
    code,
    details,
    metadata: metadata(trailers)
  })

// Everything observable on an error: the tag, every own field and the message.
const observe = (e: EsdbError): Record<string, unknown> => ({ ...e, message: e.message })

interface Expected {
  readonly _tag: EsdbError["_tag"]
  readonly message: string
  readonly [field: string]: unknown
}

interface Row {
  readonly name: string
  readonly code: grpc.status
  readonly details: string
  readonly trailers?: TrailerInput
  readonly context?: {
    readonly stream?: string
    readonly expected?: StreamState
    readonly group?: string
    readonly projection?: string
  }
  readonly expected: Expected
  readonly retryable: boolean
  readonly transient: boolean
}

const S = grpc.status

// ---------------------------------------------------------------------------------------------
// PROTOCOL.md §2 — errors signalled with an `exception` trailer

const exceptionRows: ReadonlyArray<Row> = [
  {
    name: "user-not-found",
    code: S.NOT_FOUND,
    details: "User 'bob' is not found.",
    trailers: { exception: "user-not-found", "login-name": "bob" },
    expected: { _tag: "UserNotFound", loginName: "bob", message: "User 'bob' is not found" },
    retryable: false,
    transient: false
  },
  {
    name: "user-conflict (Conflict.)",
    code: S.FAILED_PRECONDITION,
    details: "Conflict.",
    trailers: { exception: "user-conflict", "login-name": "bob" },
    expected: { _tag: "UserAlreadyExists", loginName: "bob", message: "User 'bob' already exists" },
    retryable: false,
    transient: false
  },
  {
    name: "user-conflict with DEADLINE_EXCEEDED (Try again.)",
    code: S.DEADLINE_EXCEEDED,
    details: "Try again.",
    trailers: { exception: "user-conflict", "login-name": "bob" },
    expected: { _tag: "DeadlineExceeded", reason: "Try again.", message: "Try again." },
    retryable: false,
    transient: true
  },
  {
    name: "scavenge-not-found while none runs",
    code: S.NOT_FOUND,
    details: "Scavenge id was invalid.",
    trailers: { exception: "scavenge-not-found", "scavenge-id": "" },
    expected: { _tag: "ScavengeNotFound", scavengeId: "", running: undefined, message: "Scavenge '' is not running (no scavenge runs)" },
    retryable: false,
    transient: false
  },
  {
    name: "scavenge-not-found names the running scavenge",
    code: S.NOT_FOUND,
    details: "Scavenge id was invalid.",
    trailers: { exception: "scavenge-not-found", "scavenge-id": "s-1" },
    expected: { _tag: "ScavengeNotFound", scavengeId: "", running: "s-1", message: "Scavenge '' is not running (scavenge 's-1' is)" },
    retryable: false,
    transient: false
  },
  {
    name: "not-leader with leader endpoint",
    code: S.NOT_FOUND,
    details: "Leader info available",
    trailers: { exception: "not-leader", "leader-endpoint-host": "10.0.0.2", "leader-endpoint-port": "2113" },
    expected: {
      _tag: "NodeIsNotLeader",
      leader: { host: "10.0.0.2", port: 2113 },
      message: "Node is not the leader; the leader is 10.0.0.2:2113"
    },
    retryable: true,
    transient: true
  },
  {
    name: "not-leader with an unreadable port keeps the error without a leader",
    code: S.NOT_FOUND,
    details: "Leader info available",
    trailers: { exception: "not-leader", "leader-endpoint-host": "10.0.0.2", "leader-endpoint-port": "http" },
    expected: { _tag: "NodeIsNotLeader", message: "Node is not the leader and no leader is known" },
    retryable: true,
    transient: true
  },
  {
    name: "not-leader with an out-of-range port",
    code: S.NOT_FOUND,
    details: "Leader info available",
    trailers: { exception: "not-leader", "leader-endpoint-host": "node3", "leader-endpoint-port": "70000" },
    expected: { _tag: "NodeIsNotLeader", message: "Node is not the leader and no leader is known" },
    retryable: true,
    transient: true
  },
  {
    name: "stream-not-found",
    code: S.NOT_FOUND,
    details: "Event stream 'orders-1' is not found.",
    trailers: { exception: "stream-not-found", "stream-name": "orders-1" },
    expected: { _tag: "NotFound", stream: "orders-1", message: "Stream 'orders-1' not found" },
    retryable: false,
    transient: false
  },
  {
    name: "stream-deleted",
    code: S.FAILED_PRECONDITION,
    details: "Event stream 'orders-2' is deleted.",
    trailers: { exception: "stream-deleted", "stream-name": "orders-2" },
    expected: { _tag: "StreamDeleted", stream: "orders-2", message: "Stream 'orders-2' is deleted" },
    retryable: false,
    transient: false
  },
  {
    name: "stream-deleted without stream-name takes the context stream",
    code: S.FAILED_PRECONDITION,
    details: "Event stream 'from-details' is deleted.",
    trailers: { exception: "stream-deleted" },
    context: { stream: "from-context" },
    expected: { _tag: "StreamDeleted", stream: "from-context", message: "Stream 'from-context' is deleted" },
    retryable: false,
    transient: false
  },
  {
    name: "stream-deleted without stream-name nor context reads the details",
    code: S.FAILED_PRECONDITION,
    details: "Event stream 'it's-quoted' is deleted.",
    trailers: { exception: "stream-deleted" },
    expected: { _tag: "StreamDeleted", stream: "it's-quoted", message: "Stream 'it's-quoted' is deleted" },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, exact revisions",
    code: S.FAILED_PRECONDITION,
    details: "Delete failed due to WrongExpectedVersion. Stream: orders-3, Expected version: 5, Actual version: 7",
    trailers: {
      exception: "wrong-expected-version",
      "stream-name": "orders-3",
      "expected-version": "5",
      "actual-version": "7"
    },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "orders-3",
      expected: 5n,
      actual: 7n,
      message: "Stream position of last event is 7 not 5 in stream 'orders-3'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, expected -1 (no_stream)",
    code: S.FAILED_PRECONDITION,
    details: "Delete failed due to WrongExpectedVersion. Stream: s, Expected version: -1, Actual version: 3",
    trailers: { exception: "wrong-expected-version", "stream-name": "s", "expected-version": "-1", "actual-version": "3" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "s",
      expected: "no_stream",
      actual: 3n,
      message: "Stream position of last event is 3 not NO_STREAM in stream 's'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, expected -2 (any), actual empty (the node's null)",
    code: S.FAILED_PRECONDITION,
    details: "Delete failed due to WrongExpectedVersion. Stream: s, Expected version: -2, Actual version: ",
    trailers: { exception: "wrong-expected-version", "stream-name": "s", "expected-version": "-2", "actual-version": "" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "s",
      expected: "any",
      actual: "no_stream",
      message: "Stream 's' does not exist (expected ANY)"
    },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, expected -4 (exists), actual -1",
    code: S.FAILED_PRECONDITION,
    details: "Delete failed due to WrongExpectedVersion. Stream: s, Expected version: -4, Actual version: -1",
    trailers: { exception: "wrong-expected-version", "stream-name": "s", "expected-version": "-4", "actual-version": "-1" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "s",
      expected: "exists",
      actual: "no_stream",
      message: "Stream 's' does not exist (expected EXISTS)"
    },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, actual-version absent",
    code: S.FAILED_PRECONDITION,
    details: "WrongExpectedVersion",
    trailers: { exception: "wrong-expected-version", "stream-name": "s", "expected-version": "0" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "s",
      expected: 0n,
      actual: "no_stream",
      message: "Stream 's' does not exist (expected 0)"
    },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, uint64 edge",
    code: S.FAILED_PRECONDITION,
    details: "WrongExpectedVersion",
    trailers: {
      exception: "wrong-expected-version",
      "stream-name": "big",
      "expected-version": "18446744073709551615",
      "actual-version": "9223372036854775807"
    },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "big",
      expected: 18446744073709551615n,
      actual: 9223372036854775807n,
      message: "Stream position of last event is 9223372036854775807 not 18446744073709551615 in stream 'big'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, garbage expected-version falls back to any",
    code: S.FAILED_PRECONDITION,
    details: "WrongExpectedVersion",
    trailers: { exception: "wrong-expected-version", "stream-name": "g", "expected-version": "five", "actual-version": "2" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "g",
      expected: "any",
      actual: 2n,
      message: "Stream position of last event is 2 not ANY in stream 'g'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, garbage expected-version falls back to the context's expected",
    code: S.FAILED_PRECONDITION,
    details: "WrongExpectedVersion",
    trailers: { exception: "wrong-expected-version", "expected-version": "1e3", "actual-version": "2" },
    context: { stream: "ctx", expected: 1000n },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "ctx",
      expected: 1000n,
      actual: 2n,
      message: "Stream position of last event is 2 not 1000 in stream 'ctx'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, beyond uint64 and unknown sentinels are unreadable",
    code: S.FAILED_PRECONDITION,
    details: "WrongExpectedVersion",
    trailers: {
      exception: "wrong-expected-version",
      "stream-name": "o",
      "expected-version": "18446744073709551616",
      "actual-version": "-5"
    },
    context: { expected: "exists" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "o",
      expected: "exists",
      actual: "no_stream",
      message: "Stream 'o' does not exist (expected EXISTS)"
    },
    retryable: false,
    transient: false
  },
  {
    name: "wrong-expected-version, garbage actual-version reads as no_stream",
    code: S.FAILED_PRECONDITION,
    details: "WrongExpectedVersion",
    trailers: { exception: "wrong-expected-version", "stream-name": "a", "expected-version": "-3", "actual-version": "x" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "a",
      expected: "any",
      actual: "no_stream",
      message: "Stream 'a' does not exist (expected ANY)"
    },
    retryable: false,
    transient: false
  },
  {
    name: "access-denied",
    code: S.PERMISSION_DENIED,
    details: "Access Denied",
    trailers: { exception: "access-denied" },
    expected: { _tag: "AccessDenied", reason: "Access Denied", message: "Access Denied" },
    retryable: false,
    transient: false
  },
  {
    name: "invalid-transaction",
    code: S.INVALID_ARGUMENT,
    details: "Invalid Transaction",
    trailers: { exception: "invalid-transaction" },
    expected: { _tag: "InvalidArgument", reason: "Invalid Transaction", message: "Invalid Transaction" },
    retryable: false,
    transient: false
  },
  {
    name: "maximum-append-size-exceeded",
    code: S.INVALID_ARGUMENT,
    details: "Maximum Append Size of 1048576 Exceeded.",
    trailers: { exception: "maximum-append-size-exceeded", "maximum-append-size": "1048576" },
    expected: {
      _tag: "MaximumAppendSizeExceeded",
      reason: "Maximum Append Size of 1048576 Exceeded.",
      maximum: 1048576,
      message: "Maximum Append Size of 1048576 Exceeded."
    },
    retryable: false,
    transient: false
  },
  {
    name: "maximum-append-event-size-exceeded",
    code: S.INVALID_ARGUMENT,
    details:
      "Event with Id: 0b0f6c2e-3d7a-4d55-9e3c-6f3a1c6b8e11, Size: 16777300, exceeds Maximum Append Event Size of 16777216.",
    trailers: {
      exception: "maximum-append-event-size-exceeded",
      "maximum-append-event-size": "16777216",
      "event-id": "0b0f6c2e-3d7a-4d55-9e3c-6f3a1c6b8e11",
      "proposed-append-event-size": "16777300"
    },
    expected: {
      _tag: "MaximumAppendSizeExceeded",
      reason:
        "Event with Id: 0b0f6c2e-3d7a-4d55-9e3c-6f3a1c6b8e11, Size: 16777300, exceeds Maximum Append Event Size of 16777216.",
      maximum: 16777216,
      message:
        "Event with Id: 0b0f6c2e-3d7a-4d55-9e3c-6f3a1c6b8e11, Size: 16777300, exceeds Maximum Append Event Size of 16777216."
    },
    retryable: false,
    transient: false
  },
  {
    name: "maximum-append-size-exceeded without a readable maximum",
    code: S.INVALID_ARGUMENT,
    details: "Maximum Append Size of ? Exceeded.",
    trailers: { exception: "maximum-append-size-exceeded", "maximum-append-size": "lots" },
    expected: {
      _tag: "MaximumAppendSizeExceeded",
      reason: "Maximum Append Size of ? Exceeded.",
      message: "Maximum Append Size of ? Exceeded."
    },
    retryable: false,
    transient: false
  },
  {
    name: "missing-required-metadata-property",
    code: S.INVALID_ARGUMENT,
    details: "Required Metadata Property 'type' is missing",
    trailers: { exception: "missing-required-metadata-property", "required-metadata-properties": "type,content-type" },
    expected: {
      _tag: "InvalidArgument",
      reason: "Required Metadata Property 'type' is missing",
      message: "Required Metadata Property 'type' is missing"
    },
    retryable: false,
    transient: false
  }
]

// Persistent-subscription exceptions (PROTOCOL.md §2): typed, with the group's names from the
// trailers, else from the context.
const persistentRows: ReadonlyArray<Row> = [
  {
    name: "persistent-subscription-failed: the node refused settings or start (InvalidArgument with its reason)",
    code: S.INTERNAL,
    details: "Subscription group g on stream s failed: 'boom'",
    trailers: { exception: "persistent-subscription-failed", "stream-name": "s", "group-name": "g", reason: "boom" },
    expected: { _tag: "InvalidArgument", reason: "boom", message: "boom" },
    retryable: false,
    transient: false
  },
  {
    name: "persistent-subscription-does-not-exist: SubscriptionNotFound",
    code: S.NOT_FOUND,
    details: "Subscription group g on stream s does not exist.",
    trailers: { exception: "persistent-subscription-does-not-exist", "stream-name": "s", "group-name": "g" },
    expected: {
      _tag: "SubscriptionNotFound",
      stream: "s",
      group: "g",
      message: "Persistent subscription group 'g' on stream 's' does not exist"
    },
    retryable: false,
    transient: false
  },
  {
    name: "persistent-subscription-does-not-exist without names: the context's",
    code: S.NOT_FOUND,
    details: "Subscription group g on stream s does not exist.",
    trailers: { exception: "persistent-subscription-does-not-exist" },
    context: { stream: "s", group: "g" },
    expected: {
      _tag: "SubscriptionNotFound",
      stream: "s",
      group: "g",
      message: "Persistent subscription group 'g' on stream 's' does not exist"
    },
    retryable: false,
    transient: false
  },
  {
    name: "persistent-subscription-exists: SubscriptionAlreadyExists",
    code: S.ALREADY_EXISTS,
    details: "Subscription group g on stream s exists.",
    trailers: { exception: "persistent-subscription-exists", "stream-name": "s", "group-name": "g" },
    expected: {
      _tag: "SubscriptionAlreadyExists",
      stream: "s",
      group: "g",
      message: "Persistent subscription group 'g' on stream 's' already exists"
    },
    retryable: false,
    transient: false
  },
  {
    name: "maximum-subscribers-reached: MaximumSubscribersReached",
    code: S.FAILED_PRECONDITION,
    details: "Maximum subscriptions reached for subscription group g on stream s.",
    trailers: { exception: "maximum-subscribers-reached", "stream-name": "s", "group-name": "g" },
    expected: {
      _tag: "MaximumSubscribersReached",
      stream: "s",
      group: "g",
      message: "Maximum subscribers reached for persistent subscription group 'g' on stream 's'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "persistent-subscription-dropped: SubscriptionDropped (a consumer reconnects after it)",
    code: S.CANCELLED,
    details: "Subscription group g on stream s was dropped.",
    trailers: { exception: "persistent-subscription-dropped", "stream-name": "s", "group-name": "g" },
    expected: {
      _tag: "SubscriptionDropped",
      stream: "s",
      group: "g",
      reason: "Subscription group g on stream s was dropped.",
      message: "Persistent subscription group 'g' on stream 's' was dropped: Subscription group g on stream s was dropped."
    },
    retryable: false,
    transient: false
  }
]

// Projection failures (PROTOCOL.md §5): status and text only, the name from the text, else the context.
const projectionRows: ReadonlyArray<Row> = [
  {
    name: "NOT_FOUND Projection 'p' not found: ProjectionNotFound",
    code: S.NOT_FOUND,
    details: "Projection 'p' not found",
    expected: { _tag: "ProjectionNotFound", name: "p", message: "Projection 'p' not found" },
    retryable: false,
    transient: false
  },
  {
    name: "ALREADY_EXISTS (after v26.1): ProjectionAlreadyExists named by the context",
    code: S.ALREADY_EXISTS,
    details: "Duplicate projection names : p",
    context: { projection: "p" },
    expected: { _tag: "ProjectionAlreadyExists", name: "p", message: "Projection 'p' already exists" },
    retryable: false,
    transient: false
  },
  {
    name: "UNKNOWN envelope Conflict (released versions): ProjectionAlreadyExists",
    code: S.UNKNOWN,
    details: "Envelope callback expected Updated, received Conflict instead",
    context: { projection: "p" },
    expected: { _tag: "ProjectionAlreadyExists", name: "p", message: "Projection 'p' already exists" },
    retryable: false,
    transient: false
  },
  {
    name: "UNKNOWN envelope OperationFailed (delete while running): ProjectionWrongState",
    code: S.UNKNOWN,
    details: "Envelope callback expected Updated, received OperationFailed instead",
    context: { projection: "p" },
    expected: {
      _tag: "ProjectionWrongState",
      name: "p",
      reason: "The projection is not in a state that allows this operation: it must be stopped or faulted to be deleted",
      message: "Projection 'p' is in the wrong state: The projection is not in a state that allows this operation: it must be stopped or faulted to be deleted"
    },
    retryable: false,
    transient: false
  },
  {
    name: "FAILED_PRECONDITION subsystem in the wrong state: ProjectionWrongState of the subsystem",
    code: S.FAILED_PRECONDITION,
    details: "Projection Subsystem cannot be restarted as it is in the wrong state: Starting",
    expected: {
      _tag: "ProjectionWrongState",
      name: "",
      reason: "Projection Subsystem cannot be restarted as it is in the wrong state: Starting",
      message: "The projection subsystem is in the wrong state: Projection Subsystem cannot be restarted as it is in the wrong state: Starting"
    },
    retryable: false,
    transient: false
  },
  {
    name: "CANCELLED Call cancelled (the node reset the call: a node shutting down): ServiceUnavailable, resumed, not retried",
    code: S.CANCELLED,
    details: "Call cancelled",
    expected: { _tag: "ServiceUnavailable", reason: "Call cancelled", message: "Call cancelled" },
    retryable: false,
    transient: true
  },
  {
    name: "CANCELLED from the node with its own text (a node shutting down): ServiceUnavailable, resumed, not retried",
    code: S.CANCELLED,
    details: "Call canceled by the server.",
    expected: { _tag: "ServiceUnavailable", reason: "Call canceled by the server.", message: "Call canceled by the server." },
    retryable: false,
    transient: true
  }
]

// Exceptions of services without typed errors yet: GrpcError with code, details and every trailer.
const foreignRows: ReadonlyArray<readonly [grpc.status, string, TrailerInput]> = [
  [S.NOT_FOUND, "Index 'by-type' not found.", { exception: "index-not-found", "index-name": "by-type" }],
  [S.FAILED_PRECONDITION, "Failed to acquire lock for redaction.", { exception: "redaction-lock-failed" }],
  [S.UNKNOWN, "Failed to get event position: 'x'", { exception: "redaction-get-event-position-failed", reason: "x" }]
]

// ---------------------------------------------------------------------------------------------
// PROTOCOL.md §2 statuses without trailers, §7 auth, grpc-js statuses, and the official
// client's remaps

const statusRows: ReadonlyArray<Row> = [
  {
    name: "UNAVAILABLE certificate verification failed: TlsFailed, not retried",
    code: S.UNAVAILABLE,
    details: "No connection established. Last error: Error: self-signed certificate in certificate chain",
    expected: { _tag: "TlsFailed", reason: "The node's TLS certificate could not be verified (No connection established. Last error: Error: self-signed certificate in certificate chain). Give the CA that signed it (TlsCaFile=<path> in the connection string, or the rootCertificates option), or, for a development node only, set TlsVerifyCert=false", message: "The node's TLS certificate could not be verified (No connection established. Last error: Error: self-signed certificate in certificate chain). Give the CA that signed it (TlsCaFile=<path> in the connection string, or the rootCertificates option), or, for a development node only, set TlsVerifyCert=false" },
    retryable: false,
    transient: false
  },
  {
    name: "UNAVAILABLE TLS record from a plain-text peer: TlsFailed, not retried",
    code: S.UNAVAILABLE,
    details: "No connection established. Last error: Error: 40C8B5D8F67F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number",
    expected: { _tag: "TlsFailed", reason: "The node does not speak the transport the connection string asks for (No connection established. Last error: Error: 40C8B5D8F67F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number): use tls=true for a secure node, tls=false for an insecure one", message: "The node does not speak the transport the connection string asks for (No connection established. Last error: Error: 40C8B5D8F67F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number): use tls=true for a secure node, tls=false for an insecure one" },
    retryable: false,
    transient: false
  },
  {
    name: "UNAVAILABLE Server Is Not Ready",
    code: S.UNAVAILABLE,
    details: "Server Is Not Ready",
    expected: { _tag: "ServiceUnavailable", reason: "Server Is Not Ready", message: "Server Is Not Ready" },
    retryable: true,
    transient: true
  },
  {
    name: "UNAVAILABLE Server Is Too Busy",
    code: S.UNAVAILABLE,
    details: "Server Is Too Busy",
    expected: { _tag: "ServiceUnavailable", reason: "Server Is Too Busy", message: "Server Is Too Busy" },
    retryable: true,
    transient: true
  },
  {
    name: "UNAVAILABLE Server not ready (auth middleware, pushback -1)",
    code: S.UNAVAILABLE,
    details: "Server not ready",
    trailers: { "grpc-retry-pushback-ms": "-1" },
    expected: { _tag: "ServiceUnavailable", reason: "Server not ready", message: "Server not ready" },
    retryable: true,
    transient: true
  },
  {
    name: "UNAVAILABLE connection refused (grpc-js pick-first)",
    code: S.UNAVAILABLE,
    details: "No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1",
    expected: {
      _tag: "ServiceUnavailable",
      reason: "No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1",
      message: "No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1"
    },
    retryable: true,
    transient: true
  },
  {
    name: "UNAVAILABLE Connection dropped mid-call: transient, not retryable",
    code: S.UNAVAILABLE,
    details: "Connection dropped",
    expected: { _tag: "ServiceUnavailable", reason: "Connection dropped", message: "Connection dropped" },
    retryable: false,
    transient: true
  },
  {
    name: "UNAVAILABLE with empty details",
    code: S.UNAVAILABLE,
    details: "",
    expected: { _tag: "ServiceUnavailable", reason: "Service unavailable", message: "Service unavailable" },
    retryable: false,
    transient: true
  },
  {
    name: "UNKNOWN No leader info available",
    code: S.UNKNOWN,
    details: "No leader info available in response",
    expected: { _tag: "NodeIsNotLeader", message: "Node is not the leader and no leader is known" },
    retryable: true,
    transient: true
  },
  {
    name: "NOT_FOUND Leader info available without trailers",
    code: S.NOT_FOUND,
    details: "Leader info available",
    expected: { _tag: "NodeIsNotLeader", message: "Node is not the leader and no leader is known" },
    retryable: true,
    transient: true
  },
  {
    name: "NOT_FOUND Leader info available with endpoint but no exception key",
    code: S.NOT_FOUND,
    details: "Leader info available",
    trailers: { "leader-endpoint-host": "leader.local", "leader-endpoint-port": "2113" },
    expected: {
      _tag: "NodeIsNotLeader",
      leader: { host: "leader.local", port: 2113 },
      message: "Node is not the leader; the leader is leader.local:2113"
    },
    retryable: true,
    transient: true
  },
  {
    name: "ABORTED Operation timed out",
    code: S.ABORTED,
    details: "Operation timed out: Append to stream s",
    expected: {
      _tag: "DeadlineExceeded",
      reason: "Operation timed out: Append to stream s",
      message: "Operation timed out: Append to stream s"
    },
    retryable: false,
    transient: true
  },
  {
    name: "INVALID_ARGUMENT bad position",
    code: S.INVALID_ARGUMENT,
    details: "Trying to read from an invalid position.",
    expected: {
      _tag: "InvalidArgument",
      reason: "Trying to read from an invalid position.",
      message: "Trying to read from an invalid position."
    },
    retryable: false,
    transient: false
  },
  {
    name: "NOT_FOUND Event stream was not created",
    code: S.NOT_FOUND,
    details: "Event stream 'orders-9' was not created.",
    expected: { _tag: "NotFound", stream: "orders-9", message: "Stream 'orders-9' not found" },
    retryable: false,
    transient: false
  },
  {
    name: "UNAUTHENTICATED bad credentials",
    code: S.UNAUTHENTICATED,
    details: "Unauthenticated",
    expected: { _tag: "Unauthenticated", reason: "Unauthenticated", message: "Unauthenticated" },
    retryable: false,
    transient: false
  },
  {
    name: "PERMISSION_DENIED without exception trailer",
    code: S.PERMISSION_DENIED,
    details: "Access Denied",
    expected: { _tag: "AccessDenied", reason: "Access Denied", message: "Access Denied" },
    retryable: false,
    transient: false
  },
  {
    name: "DEADLINE_EXCEEDED from the client deadline",
    code: S.DEADLINE_EXCEEDED,
    details: "Deadline exceeded after 1.002s,remote_addr=127.0.0.1:2113",
    expected: {
      _tag: "DeadlineExceeded",
      reason: "Deadline exceeded after 1.002s,remote_addr=127.0.0.1:2113",
      message: "Deadline exceeded after 1.002s,remote_addr=127.0.0.1:2113"
    },
    retryable: false,
    transient: true
  },
  {
    name: "official remap: INTERNAL RST_STREAM",
    code: S.INTERNAL,
    details: "Received RST_STREAM with code 2 (Internal server error)",
    expected: {
      _tag: "ServiceUnavailable",
      reason: "Received RST_STREAM with code 2 (Internal server error)",
      message: "Received RST_STREAM with code 2 (Internal server error)"
    },
    retryable: false,
    transient: true
  },
  {
    name: "official remap: DATA_LOSS",
    code: S.DATA_LOSS,
    details: "stream truncated",
    expected: { _tag: "ServiceUnavailable", reason: "stream truncated", message: "stream truncated" },
    retryable: false,
    transient: true
  },
  {
    name: "official remap: UNKNOWN client error (Connect) — a connect failure, retryable",
    code: S.UNKNOWN,
    details: "client error (Connect): tcp connect error: Connection refused (os error 111)",
    expected: {
      _tag: "ServiceUnavailable",
      reason: "client error (Connect): tcp connect error: Connection refused (os error 111)",
      message: "client error (Connect): tcp connect error: Connection refused (os error 111)"
    },
    retryable: true,
    transient: true
  },
  {
    name: "official remap: UNKNOWN write after end",
    code: S.UNKNOWN,
    details: "write after end",
    expected: { _tag: "ServiceUnavailable", reason: "write after end", message: "write after end" },
    retryable: false,
    transient: true
  }
]

// Statuses that stay GrpcError.
const rawRows: ReadonlyArray<readonly [string, grpc.status, string]> = [
  ["UNKNOWN handler exception", S.UNKNOWN, "Exception was thrown by handler."],
  ["ABORTED other than a timeout", S.ABORTED, "Consumer too slow"],
  ["CANCELLED on client", S.CANCELLED, "Cancelled on client"],
  ["RESOURCE_EXHAUSTED", S.RESOURCE_EXHAUSTED, "Received message larger than max (20000000 vs. 4194304)"],
  ["UNIMPLEMENTED", S.UNIMPLEMENTED, "The server does not implement the method /x.Y/Z"],
  ["INTERNAL response parsing (deterministic)", S.INTERNAL, "Response message parsing error: premature EOF"],
  ["INTERNAL request serialization (deterministic)", S.INTERNAL, "Request message serialization failure: bad"],
  ["FAILED_PRECONDITION without trailers", S.FAILED_PRECONDITION, "Something else"]
]

describe("classifyError", () => {
  for (const row of [...exceptionRows, ...persistentRows, ...projectionRows, ...statusRows]) {
    it(row.name, () => {
      const failure = serviceError(row.code, row.details, row.trailers)
      const error = classifyError(failure, row.context)
      assert.deepStrictEqual(observe(error), row.expected)
      assert.strictEqual(isRetryable(error), row.retryable, "isRetryable")
      assert.strictEqual(isTransient(error), row.transient, "isTransient")
      if (error._tag === "ServiceUnavailable") {
        // the raw status is kept as the cause
        assert.instanceOf(error.cause, GrpcError)
        const cause = error.cause as GrpcError
        assert.strictEqual(cause.code, row.code)
        assert.strictEqual(cause.details, row.details)
      }
    })
  }

  for (const [code, details, trailers] of foreignRows) {
    it(`foreign exception ${String(trailers.exception)} stays GrpcError`, () => {
      const error = classifyError(serviceError(code, details, trailers), { stream: "ignored" })
      const expectedMetadata = Object.fromEntries(Object.entries(trailers).map(([k, v]) => [k, [v]]))
      assert.deepStrictEqual(observe(error), {
        _tag: "GrpcError",
        code,
        details,
        metadata: expectedMetadata,
        message: `gRPC status ${code}: ${details}`
      })
      assert.isFalse(isRetryable(error))
      assert.isFalse(isTransient(error))
    })
  }

  for (const [name, code, details] of rawRows) {
    it(`${name} stays GrpcError`, () => {
      const error = classifyError(serviceError(code, details, { "x-request-id": "r1" }))
      assert.deepStrictEqual(observe(error), {
        _tag: "GrpcError",
        code,
        details,
        metadata: { "x-request-id": ["r1"] },
        message: `gRPC status ${code}: ${details}`
      })
      assert.isFalse(isRetryable(error))
      assert.isFalse(isTransient(error))
    })
  }

  it("keeps every trailer: repeated values as lists, -bin values as base64", () => {
    const bin = Buffer.from([0x08, 0x05, 0x12, 0x03, 0xff, 0x00, 0x7f])
    const error = classifyError(serviceError(S.FAILED_PRECONDITION, "nope", {
      "grpc-status-details-bin": bin,
      "x-multi": ["a", "b"]
    }))
    assert.deepStrictEqual(observe(error), {
      _tag: "GrpcError",
      code: S.FAILED_PRECONDITION,
      details: "nope",
      metadata: { "grpc-status-details-bin": [bin.toString("base64")], "x-multi": ["a", "b"] },
      message: "gRPC status 9: nope"
    })
  })

  it("accepts plain-record metadata (keys case-insensitive, single values or lists)", () => {
    const error = classifyError({
      code: S.FAILED_PRECONDITION,
      details: "WrongExpectedVersion",
      metadata: {
        Exception: "wrong-expected-version",
        "stream-name": ["rec"],
        "expected-version": "4",
        "actual-version": ["6", "ignored"]
      }
    })
    assert.deepStrictEqual(observe(error), {
      _tag: "WrongCurrentVersion",
      stream: "rec",
      expected: 4n,
      actual: 6n,
      message: "Stream position of last event is 6 not 4 in stream 'rec'"
    })
  })

  it("accepts a status without metadata", () => {
    const error = classifyError({ code: S.NOT_FOUND, details: "Event stream 'n' was not created." })
    assert.deepStrictEqual(observe(error), { _tag: "NotFound", stream: "n", message: "Stream 'n' not found" })
  })

  it("an unknown exception value falls through to the status code", () => {
    const unavailable = classifyError(serviceError(S.UNAVAILABLE, "Server Is Not Ready", { exception: "future-thing" }))
    assert.strictEqual(unavailable._tag, "ServiceUnavailable")
    const other = classifyError(serviceError(S.FAILED_PRECONDITION, "x", { exception: "stream-tombstoned" }))
    assert.deepStrictEqual(observe(other), {
      _tag: "GrpcError",
      code: S.FAILED_PRECONDITION,
      details: "x",
      metadata: { exception: ["stream-tombstoned"] },
      message: "gRPC status 9: x"
    })
  })

  it("a thrown Error becomes ServiceUnavailable keeping the error as cause", () => {
    const thrown = new Error("Channel has been shut down")
    const error = classifyError(thrown)
    assert.deepStrictEqual(observe(error), {
      _tag: "ServiceUnavailable",
      reason: "Channel has been shut down",
      message: "Channel has been shut down"
    })
    assert.strictEqual((error as ServiceUnavailable).cause, thrown)
    assert.isTrue(isRetryable(error))
    assert.isTrue(isTransient(error))
  })

  it("a thrown non-Error value becomes ServiceUnavailable", () => {
    const error = classifyError("boom")
    assert.deepStrictEqual(observe(error), { _tag: "ServiceUnavailable", reason: "boom", message: "boom" })
    assert.strictEqual((error as ServiceUnavailable).cause, "boom")
  })

  it("an error with a non-numeric code is not taken for a gRPC status", () => {
    const sys = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED", details: "x" })
    const error = classifyError(sys)
    assert.strictEqual(error._tag, "ServiceUnavailable")
    assert.strictEqual((error as ServiceUnavailable).cause, sys)
  })

  it("is idempotent on already-classified errors", () => {
    const once = classifyError(serviceError(S.NOT_FOUND, "Event stream 'x' is not found.", {
      exception: "stream-not-found",
      "stream-name": "x"
    }))
    assert.strictEqual(classifyError(once), once)
    const created = new WrongCurrentVersion({ stream: "w", expected: "any", actual: 1n })
    assert.strictEqual(classifyError(created), created)
  })

  it("ServiceUnavailable built elsewhere (no gRPC cause) is retryable", () => {
    assert.isTrue(isRetryable(new ServiceUnavailable({ reason: "no node reachable" })))
  })
})

// ---------------------------------------------------------------------------------------------
// BatchAppend in-band statuses

const pack = <T>(name: string, codec: Shared.MessageFns<T>, message: T) => ({
  typeUrl: `type.googleapis.com/event_store.client.${name}`,
  value: Buffer.from(codec.encode(message).finish())
})

const empty = {}

interface StatusRow {
  readonly name: string
  readonly status: Status
  readonly context: { readonly stream: string; readonly expected?: StreamState }
  readonly expected: Expected
  readonly retryable: boolean
  readonly transient: boolean
}

const statusTable: ReadonlyArray<StatusRow> = [
  {
    name: "WrongExpectedVersion: exact expected, current revision",
    status: {
      code: 6,
      message: "WrongExpectedVersion",
      details: pack("WrongExpectedVersion", Shared.WrongExpectedVersion, {
        currentStreamRevisionOption: { $case: "currentStreamRevision", value: 4n },
        expectedStreamPositionOption: { $case: "expectedStreamPosition", value: 2n }
      })
    },
    context: { stream: "b-1", expected: 99n },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "b-1",
      expected: 2n,
      actual: 4n,
      message: "Stream position of last event is 4 not 2 in stream 'b-1'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "WrongExpectedVersion: stream_exists on a missing stream",
    status: {
      code: 6,
      message: "WrongExpectedVersion",
      details: pack("WrongExpectedVersion", Shared.WrongExpectedVersion, {
        currentStreamRevisionOption: { $case: "currentNoStream", value: empty },
        expectedStreamPositionOption: { $case: "expectedStreamExists", value: empty }
      })
    },
    context: { stream: "b-2" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "b-2",
      expected: "exists",
      actual: "no_stream",
      message: "Stream 'b-2' does not exist (expected EXISTS)"
    },
    retryable: false,
    transient: false
  },
  {
    name: "WrongExpectedVersion: no_stream on a live stream",
    status: {
      code: 6,
      message: "WrongExpectedVersion",
      details: pack("WrongExpectedVersion", Shared.WrongExpectedVersion, {
        currentStreamRevisionOption: { $case: "currentStreamRevision", value: 0n },
        expectedStreamPositionOption: { $case: "expectedNoStream", value: empty }
      })
    },
    context: { stream: "b-3" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "b-3",
      expected: "no_stream",
      actual: 0n,
      message: "Stream position of last event is 0 not NO_STREAM in stream 'b-3'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "WrongExpectedVersion: any (partial idempotent write)",
    status: {
      code: 6,
      message: "WrongExpectedVersion",
      details: pack("WrongExpectedVersion", Shared.WrongExpectedVersion, {
        currentStreamRevisionOption: { $case: "currentStreamRevision", value: 9223372036854775806n },
        expectedStreamPositionOption: { $case: "expectedAny", value: empty }
      })
    },
    context: { stream: "b-4" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "b-4",
      expected: "any",
      actual: 9223372036854775806n,
      message: "Stream position of last event is 9223372036854775806 not ANY in stream 'b-4'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "WrongExpectedVersion: uint64 edge on both sides",
    status: {
      code: 6,
      message: "WrongExpectedVersion",
      details: pack("WrongExpectedVersion", Shared.WrongExpectedVersion, {
        currentStreamRevisionOption: { $case: "currentStreamRevision", value: 18446744073709551615n },
        expectedStreamPositionOption: { $case: "expectedStreamPosition", value: 18446744073709551614n }
      })
    },
    context: { stream: "b-5" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "b-5",
      expected: 18446744073709551614n,
      actual: "no_stream",
      message: "Stream 'b-5' does not exist (expected 18446744073709551614)"
    },
    retryable: false,
    transient: false
  },
  {
    name: "WrongExpectedVersion: undecodable details fall back on the message",
    status: {
      code: 6,
      message: "WrongExpectedVersion",
      details: { typeUrl: "type.googleapis.com/event_store.client.WrongExpectedVersion", value: Buffer.from([0xff, 0xff]) }
    },
    context: { stream: "b-6", expected: 3n },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "b-6",
      expected: 3n,
      actual: "no_stream",
      message: "Stream 'b-6' does not exist (expected 3)"
    },
    retryable: false,
    transient: false
  },
  {
    name: "StreamDeleted with identifier",
    status: {
      code: 5,
      message: "StreamDeleted",
      details: pack("StreamDeleted", Shared.StreamDeleted, {
        streamIdentifier: { streamName: Buffer.from("tomb-é", "utf8") }
      })
    },
    context: { stream: "ctx" },
    expected: { _tag: "StreamDeleted", stream: "tomb-é", message: "Stream 'tomb-é' is deleted" },
    retryable: false,
    transient: false
  },
  {
    name: "StreamDeleted without identifier takes the context stream",
    status: { code: 5, message: "StreamDeleted", details: pack("StreamDeleted", Shared.StreamDeleted, {}) },
    context: { stream: "ctx-del" },
    expected: { _tag: "StreamDeleted", stream: "ctx-del", message: "Stream 'ctx-del' is deleted" },
    retryable: false,
    transient: false
  },
  {
    name: "AccessDenied",
    status: { code: 7, message: "AccessDenied", details: pack("AccessDenied", Shared.AccessDenied, {}) },
    context: { stream: "$secret" },
    expected: {
      _tag: "AccessDenied",
      reason: "Access denied to stream '$secret'",
      message: "Access denied to stream '$secret'"
    },
    retryable: false,
    transient: false
  },
  {
    name: "Timeout",
    status: { code: 4, message: "Timeout", details: pack("Timeout", Shared.Timeout, {}) },
    context: { stream: "slow" },
    expected: {
      _tag: "DeadlineExceeded",
      reason: "The append to stream 'slow' timed out before it was committed",
      message: "The append to stream 'slow' timed out before it was committed"
    },
    retryable: false,
    transient: true
  },
  {
    name: "Unknown",
    status: { code: 2, message: "Unknown", details: pack("Unknown", Shared.Unknown, {}) },
    context: { stream: "u" },
    expected: { _tag: "GrpcError", code: 2, details: "Unknown", metadata: {}, message: "gRPC status 2: Unknown" },
    retryable: false,
    transient: false
  },
  {
    name: "MaximumAppendSizeExceeded",
    status: {
      code: 3,
      message: "MaximumAppendSizeExceeded",
      details: pack("MaximumAppendSizeExceeded", Shared.MaximumAppendSizeExceeded, { maxAppendSize: 1048576 })
    },
    context: { stream: "big" },
    expected: {
      _tag: "MaximumAppendSizeExceeded",
      reason: "Maximum Append Size of 1048576 Exceeded.",
      maximum: 1048576,
      message: "Maximum Append Size of 1048576 Exceeded."
    },
    retryable: false,
    transient: false
  },
  {
    name: "MaximumAppendEventSizeExceeded",
    status: {
      code: 3,
      message: "MaximumAppendEventSizeExceeded",
      details: pack("MaximumAppendEventSizeExceeded", Shared.MaximumAppendEventSizeExceeded, {
        eventId: "e-1",
        proposedEventSize: 20000000,
        maxAppendEventSize: 16777216
      })
    },
    context: { stream: "big" },
    expected: {
      _tag: "MaximumAppendSizeExceeded",
      reason: "Event with Id: e-1, Size: 20000000, exceeds Maximum Append Event Size of 16777216.",
      maximum: 16777216,
      message: "Event with Id: e-1, Size: 20000000, exceeds Maximum Append Event Size of 16777216."
    },
    retryable: false,
    transient: false
  },
  {
    name: "BadRequest",
    status: {
      code: 3,
      message: "BadRequest",
      details: pack("BadRequest", Shared.BadRequest, { message: "Required field StreamIdentifier not set." })
    },
    context: { stream: "" },
    expected: {
      _tag: "InvalidArgument",
      reason: "Required field StreamIdentifier not set.",
      message: "Required field StreamIdentifier not set."
    },
    retryable: false,
    transient: false
  },
  {
    name: "InvalidTransaction",
    status: {
      code: 9,
      message: "InvalidTransaction",
      details: pack("InvalidTransaction", Shared.InvalidTransaction, {})
    },
    context: { stream: "t" },
    expected: { _tag: "InvalidArgument", reason: "Invalid Transaction", message: "Invalid Transaction" },
    retryable: false,
    transient: false
  },
  {
    name: "NotHandled: Server Is Not Ready (Empty detail, code 0)",
    status: {
      code: 0,
      message: "Server Is Not Ready",
      details: {
        typeUrl: "type.googleapis.com/google.protobuf.Empty",
        value: Buffer.from(ProtobufEmpty.encode({}).finish())
      }
    },
    context: { stream: "n" },
    expected: { _tag: "ServiceUnavailable", reason: "Server Is Not Ready", message: "Server Is Not Ready" },
    retryable: true,
    transient: true
  },
  {
    name: "NotHandled: Server Is Busy",
    status: { code: 0, message: "Server Is Busy", details: { typeUrl: "type.googleapis.com/google.protobuf.Empty", value: Buffer.alloc(0) } },
    context: { stream: "n" },
    expected: { _tag: "ServiceUnavailable", reason: "Server Is Busy", message: "Server Is Busy" },
    retryable: true,
    transient: true
  },
  {
    name: "NotHandled: no leader info",
    status: {
      code: 0,
      message: "No leader info available in response",
      details: { typeUrl: "type.googleapis.com/google.protobuf.Empty", value: Buffer.alloc(0) }
    },
    context: { stream: "n" },
    expected: { _tag: "NodeIsNotLeader", message: "Node is not the leader and no leader is known" },
    retryable: true,
    transient: true
  },
  {
    name: "InternalError (Empty detail) stays GrpcError",
    status: {
      code: 13,
      message: "Envelope callback expected either WriteEventsCompleted or NotHandled, received X instead.",
      details: { typeUrl: "type.googleapis.com/google.protobuf.Empty", value: Buffer.alloc(0) }
    },
    context: { stream: "i" },
    expected: {
      _tag: "GrpcError",
      code: 13,
      details: "Envelope callback expected either WriteEventsCompleted or NotHandled, received X instead.",
      metadata: {},
      message: "gRPC status 13: Envelope callback expected either WriteEventsCompleted or NotHandled, received X instead."
    },
    retryable: false,
    transient: false
  },
  {
    name: "no details: ALREADY_EXISTS → WrongCurrentVersion with the context's expected",
    status: { code: 6, message: "" },
    context: { stream: "nd", expected: "no_stream" },
    expected: {
      _tag: "WrongCurrentVersion",
      stream: "nd",
      expected: "no_stream",
      actual: "no_stream",
      message: "Stream 'nd' does not exist (expected NO_STREAM)"
    },
    retryable: false,
    transient: false
  },
  {
    name: "no details: NOT_FOUND → StreamDeleted",
    status: { code: 5, message: "" },
    context: { stream: "nd" },
    expected: { _tag: "StreamDeleted", stream: "nd", message: "Stream 'nd' is deleted" },
    retryable: false,
    transient: false
  },
  {
    name: "no details: PERMISSION_DENIED",
    status: { code: 7, message: "" },
    context: { stream: "nd" },
    expected: { _tag: "AccessDenied", reason: "Access denied to stream 'nd'", message: "Access denied to stream 'nd'" },
    retryable: false,
    transient: false
  },
  {
    name: "no details: DEADLINE_EXCEEDED",
    status: { code: 4, message: "" },
    context: { stream: "nd" },
    expected: {
      _tag: "DeadlineExceeded",
      reason: "The append to stream 'nd' timed out before it was committed",
      message: "The append to stream 'nd' timed out before it was committed"
    },
    retryable: false,
    transient: true
  },
  {
    name: "no details: INVALID_ARGUMENT",
    status: { code: 3, message: "bad thing" },
    context: { stream: "nd" },
    expected: { _tag: "InvalidArgument", reason: "bad thing", message: "bad thing" },
    retryable: false,
    transient: false
  },
  {
    name: "unknown details type: falls back on the code",
    status: { code: 14, message: "", details: { typeUrl: "type.googleapis.com/x.Y", value: Buffer.from([1, 2]) } },
    context: { stream: "nd" },
    expected: { _tag: "ServiceUnavailable", reason: "Service unavailable", message: "Service unavailable" },
    retryable: true,
    transient: true
  },
  {
    name: "no details: other code → GrpcError",
    status: { code: 8, message: "exhausted" },
    context: { stream: "nd" },
    expected: { _tag: "GrpcError", code: 8, details: "exhausted", metadata: {}, message: "gRPC status 8: exhausted" },
    retryable: false,
    transient: false
  }
]

describe("classifyRpcStatus", () => {
  for (const row of statusTable) {
    it(row.name, () => {
      const error = classifyRpcStatus(row.status, row.context)
      assert.deepStrictEqual(observe(error), row.expected)
      assert.strictEqual(isRetryable(error), row.retryable, "isRetryable")
      assert.strictEqual(isTransient(error), row.transient, "isTransient")
    })
  }

  it("matches the type name after the last '/' of the type URL", () => {
    const error = classifyRpcStatus({
      code: 5,
      message: "",
      details: {
        typeUrl: "example.org/prefix/event_store.client.StreamDeleted",
        value: Buffer.from(Shared.StreamDeleted.encode({ streamIdentifier: { streamName: Buffer.from("p") } }).finish())
      }
    }, { stream: "ctx" })
    assert.deepStrictEqual(observe(error), { _tag: "StreamDeleted", stream: "p", message: "Stream 'p' is deleted" })
  })
})

// ---------------------------------------------------------------------------------------------
// Real grpc-js failures over loopback: the ServiceError the client gets, trailers included.

const startServer = (implementation: grpc.UntypedServiceImplementation) =>
  Effect.acquireRelease(
    Effect.callback<{ server: grpc.Server; port: number }, Error>((resume) => {
      const server = new grpc.Server()
      server.addService(StreamsService, implementation)
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) resume(Effect.fail(err))
        else resume(Effect.succeed({ server, port }))
      })
    }),
    ({ server }) => Effect.sync(() => server.forceShutdown())
  )

const makeClient = (port: number) =>
  Effect.acquireRelease(
    Effect.sync(() => new StreamsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure())),
    (client) => Effect.sync(() => client.close())
  )

const failedCall = <A>(call: (cb: (err: grpc.ServiceError | null, value?: A) => void) => void) =>
  Effect.callback<grpc.ServiceError, Error>((resume) => {
    call((err) => {
      resume(err === null ? Effect.fail(new Error("call unexpectedly succeeded")) : Effect.succeed(err))
    })
  })

describe("classifyError over loopback", () => {
  it.live("wrong-expected-version and not-leader trailers survive the wire", () =>
    Effect.gen(function*() {
      const binary = Buffer.from([0, 1, 2, 250, 251])
      const { port } = yield* startServer({
        read: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
        append: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: S.UNIMPLEMENTED }),
        batchAppend: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.end(),
        delete: (_call: unknown, cb: grpc.sendUnaryData<DeleteResp>) =>
          cb({
            code: S.FAILED_PRECONDITION,
            details: "Delete failed due to WrongExpectedVersion. Stream: wire-1, Expected version: 18446744073709551615, Actual version: 41",
            metadata: metadata({
              exception: "wrong-expected-version",
              "stream-name": "wire-1",
              "expected-version": "18446744073709551615",
              "actual-version": "41",
              "x-trace-bin": binary
            })
          }),
        tombstone: (_call: unknown, cb: grpc.sendUnaryData<TombstoneResp>) =>
          cb({
            code: S.NOT_FOUND,
            details: "Leader info available",
            metadata: metadata({
              exception: "not-leader",
              "leader-endpoint-host": "127.0.0.7",
              "leader-endpoint-port": "2114"
            })
          })
      })
      const client = yield* makeClient(port)

      const wev = yield* failedCall<DeleteResp>((cb) => client.delete({}, cb))
      const classified = classifyError(wev)
      assert.deepStrictEqual(observe(classified), {
        _tag: "WrongCurrentVersion",
        stream: "wire-1",
        expected: 18446744073709551615n,
        actual: 41n,
        message: "Stream position of last event is 41 not 18446744073709551615 in stream 'wire-1'"
      })

      const notLeader = yield* failedCall<TombstoneResp>((cb) => client.tombstone({}, cb))
      const leader = classifyError(notLeader)
      assert.deepStrictEqual(observe(leader), {
        _tag: "NodeIsNotLeader",
        leader: { host: "127.0.0.7", port: 2114 },
        message: "Node is not the leader; the leader is 127.0.0.7:2114"
      })
      assert.isTrue(isRetryable(leader))

      // The same WEV status with a non-matching exception key keeps the binary trailer as base64.
      const raw = classifyError({ code: wev.code, details: wev.details, metadata: (() => {
        const m = wev.metadata.clone()
        m.set("exception", "index-not-found")
        return m
      })() })
      assert.strictEqual(raw._tag, "GrpcError")
      assert.deepStrictEqual((raw as GrpcError).metadata["x-trace-bin"], [binary.toString("base64")])
    }))

  it.live("a refused connection is ServiceUnavailable and retryable", () =>
    Effect.gen(function*() {
      // Find a free port, then close it so the connect is refused.
      const port = yield* Effect.scoped(Effect.map(startServer({}), ({ port }) => port))
      const client = yield* makeClient(port)
      const failure = yield* failedCall<DeleteResp>((cb) =>
        client.delete({}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, cb)
      )
      const error = classifyError(failure)
      assert.strictEqual(error._tag, "ServiceUnavailable")
      assert.strictEqual(failure.code, S.UNAVAILABLE)
      assert.include(error.message, "No connection established")
      assert.isTrue(isRetryable(error))
      assert.isTrue(isTransient(error))
    }))
})
