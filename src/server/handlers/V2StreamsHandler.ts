/**
 * The v2 streams service of the embedded node (`kurrentdb.protocol.v2.streams.StreamsService`,
 * PROTOCOL.md §9): `AppendSession` (25.1+: one transaction over several streams, one request per
 * stream) and `AppendRecords` (26.1+: records naming their stream, plus consistency checks on any
 * stream). Both write through `Store.appendMany`: one transaction, all records or none, durable
 * together. Validation, the order of the checks and every error follow KurrentDB.Api.V2
 * (`Modules/Streams/StreamsService.cs`, its validators and `ApiErrors`): errors carry a
 * `google.rpc.Status` with an `ErrorInfo` and the typed details.
 *
 * @since 0.1.0
 */
import { Code } from "../../generated/code.ts"
import { Struct } from "../../generated/google/protobuf/struct.ts"
import { SchemaFormat } from "../../generated/kurrentdb/protocol/v2/streams/shared.ts"
import {
  type AppendRecord,
  type AppendRecordsRequest,
  type AppendRecordsResponse,
  type AppendRequest,
  type AppendSessionResponse,
  StreamsServiceService
} from "../../generated/kurrentdb/protocol/v2/streams/streams.ts"
import { Access, type Auth, type Principal } from "../Auth.ts"
import { PendingEvents } from "../codec/PendingEvents.ts"
import { newUuid, parseUuidString } from "../codec/Uuid.ts"
import { hasKind, type PropertyValue, schemaFormatNames, v1Metadata } from "../codec/RecordProperties.ts"
import { isRpcFailure, type RpcFailure, unhandled, v2Failure } from "../errors.ts"
import type { MultiExpected, MultiWriteOutcome, ProposedEvent, StreamCheck, Store } from "../storage/Store.ts"
import { WriteRefused } from "../storage/WriteValidation.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"
import {
  accessDenied,
  alreadyInSession,
  badRequest,
  consistencyViolation,
  noRequests,
  recordSizeExceeded,
  revisionConflict,
  tombstoned,
  transactionSizeExceeded
} from "../codec/V2StreamsErrors.ts"

/**
 * What the v2 streams service needs from the node.
 *
 * @since 0.1.0
 * @category models
 */
export interface V2StreamsContext {
  readonly store: Store
  readonly auth: Auth
  /** Largest transaction (MaxAppendSize). */
  readonly maxAppendSize: number
  /** Largest record (MaxAppendEventSize). */
  readonly maxRecordSize: number
}

/**
 * Whether a version "X.Y.Z" is at least `major.minor`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const versionAtLeast = (version: string, major: number, minor: number): boolean => {
  const [a = 0, b = 0] = version.split(".").map((part) => Number.parseInt(part, 10) || 0)
  return a > major || (a === major && b >= minor)
}

/**
 * The v2 streams methods a node of this version serves (and ServerFeatures lists): none before
 * 25.1, AppendSession from 25.1, AppendRecords as well from 26.1.
 *
 * @since 0.1.0
 * @category definitions
 */
export const v2StreamsDefinition = (version: string): ServiceDefinition | undefined => {
  if (!versionAtLeast(version, 25, 1)) return undefined
  if (!versionAtLeast(version, 26, 1)) return { appendSession: StreamsServiceService.appendSession }
  return { appendSession: StreamsServiceService.appendSession, appendRecords: StreamsServiceService.appendRecords }
}

// ---------------------------------------------------------------------------------------------
// validation and records (validators, AppendRecordExtensions, Mapping)

type Violation = { readonly field: string; readonly description: string }

const isGuid = (text: string): boolean => {
  const uuid = parseUuidString(text)
  return uuid !== undefined && uuid !== "00000000-0000-0000-0000-000000000000"
}

const streamNameViolation = (stream: string | undefined, field = "Stream"): Violation | undefined =>
  stream === undefined || stream.trim() === ""
    ? { field, description: "Stream must not be empty." }
    : stream === "$$"
    ? { field, description: "Stream must not be '$$'." }
    : undefined

const schemaName = /^[\p{L}\p{N}_.$:-]+$/u

/** A record made ready to store, or the failure answering it. */
interface Prepared {
  readonly recordId: string
  readonly event: ProposedEvent
  readonly size: number
}

const prepareRecord = (record: AppendRecord, requireStream: boolean): Prepared | RpcFailure => {
  const properties: Record<string, PropertyValue> = { ...(record.properties as Record<string, PropertyValue>) }
  const recordId = record.recordId === undefined ? newUuid() : record.recordId
  const format = record.schema?.format ?? SchemaFormat.SCHEMA_FORMAT_UNSPECIFIED
  const name = record.schema?.name ?? ""
  if (format !== SchemaFormat.SCHEMA_FORMAT_JSON) {
    // MapField.Add: a property of that name already given throws
    if ("$schema.format" in properties) return unhandled()
    properties["$schema.format"] = schemaFormatNames[format] ?? String(format)
  }
  if (record.schema?.id !== undefined) {
    if ("$schema.id" in properties) return unhandled()
    properties["$schema.id"] = record.schema.id
  }
  const violations: Array<Violation> = []
  if (record.stream !== undefined || requireStream) {
    const v = streamNameViolation(record.stream)
    if (v !== undefined) violations.push(v)
  }
  if (record.recordId !== undefined && !isGuid(record.recordId)) {
    violations.push({ field: "RecordId", description: "Record ID must be a valid and non-empty UUID." })
  }
  if (!(format in schemaFormatNames)) {
    violations.push({ field: "Schema.Format", description: "Schema format must be one of Json, Protobuf or Bytes." })
  } else if (format === SchemaFormat.SCHEMA_FORMAT_UNSPECIFIED) {
    violations.push({ field: "Schema.Format", description: "Schema format must not be Unspecified." })
  }
  if (name === "") violations.push({ field: "Schema.Name", description: "Schema name must not be empty" })
  else if (name.normalize("NFC") !== name) {
    violations.push({ field: "Schema.Name", description: "Schema name must be in Unicode NFC (Normalization Form C)" })
  } else if (!schemaName.test(name)) {
    violations.push({
      field: "Schema.Name",
      description: `Schema name can only contain unicode letters, digits, underscores, dashes, periods, colons, and dollar signs. Attempted Value: ${name}`
    })
  }
  if (record.schema?.id !== undefined && !isGuid(record.schema.id)) {
    violations.push({ field: "Schema.Id", description: "Schema ID must be a valid and non-empty UUID" })
  }
  for (const [key, value] of Object.entries(record.properties)) {
    if (key === "") violations.push({ field: "Properties[0].Key", description: "Property keys must not be empty." })
    if (!hasKind(value)) violations.push({ field: `Properties[${key}].Value`, description: "Property values must have a type set." })
  }
  if (violations.length > 0) return badRequest("AppendRequest", violations)
  const isJson = format === SchemaFormat.SCHEMA_FORMAT_JSON
  const size = record.data.length + Struct.encode(Struct.wrap(properties)).finish().length + Buffer.byteLength(name, "utf8")
  return {
    recordId,
    size,
    event: {
      eventId: parseUuidString(recordId)!,
      eventType: name,
      isJson,
      data: record.data,
      // stored as a real node renders the properties to a v1 read
      customMetadata: v1Metadata(properties, name, isJson)
    }
  }
}

const toExpected = (value: bigint): MultiExpected => {
  if (value >= 0n) return { _tag: "Revision", revision: value }
  if (value === -1n) return { _tag: "NoStream" }
  if (value === -4n) return { _tag: "StreamExists" }
  if (value === -5n) return { _tag: "Deleted" }
  if (value === -6n) return { _tag: "Tombstoned" }
  return { _tag: "Any" }
}

const authorize = (auth: Auth, who: Principal, stream: string, action: "read" | "write", operation: string): RpcFailure | undefined => {
  const allowed = auth.authorize(who, Access.stream(stream, action))
  if (!isRpcFailure(allowed)) return undefined
  return allowed.code === Code.PERMISSION_DENIED ? accessDenied(operation) : allowed
}

const authenticate = (auth: Auth, call: ServerCall, operation: string): Principal | RpcFailure => {
  const who = auth.authorize(call.metadata, Access.any)
  return isRpcFailure(who) && who.code === Code.PERMISSION_DENIED ? accessDenied(operation) : who
}

const writeFailure = (e: unknown): RpcFailure =>
  e instanceof WriteRefused ? v2Failure(Code.INVALID_ARGUMENT, e.message, "BAD_REQUEST", "server") : unhandled()

// ---------------------------------------------------------------------------------------------
// AppendSession

const makeAppendSession = (ctx: V2StreamsContext) =>
(call: ServerCall<AppendRequest, AppendSessionResponse>, callback: UnaryCallback<AppendSessionResponse>): void => {
  let done = false
  const requests: Array<{ readonly stream: string; readonly raw: bigint | undefined }> = []
  const seen = new Set<string>()
  // the records received so far, kept compactly (a session of millions of tiny records holds tens
  // of bytes each until MaxAppendSize refuses it), and the stream each is for
  const pending = new PendingEvents()
  const indexes: Array<number> = []
  let total = 0
  const fail = (failure: RpcFailure) => {
    if (done) return
    done = true
    pending.clear()
    indexes.length = 0
    callback(failure)
  }
  call.on("cancelled", () => {
    done = true
    pending.clear()
    indexes.length = 0
  })
  const who = authenticate(ctx.auth, call, "AppendSession")
  if (isRpcFailure(who)) return fail(who)
  call.on("data", (request: AppendRequest) => {
    if (done) return
    try {
      // AppendRequestValidator (the request validation interceptor)
      const violations: Array<Violation> = []
      const v = streamNameViolation(request.stream)
      if (v !== undefined) violations.push(v)
      const raw = request.expectedRevision
      if (raw !== undefined && raw < 0n && raw !== -1n && raw !== -2n && raw !== -4n) {
        violations.push({
          field: "ExpectedRevision",
          description: "Expected revision must be positive or one of the allowed constants: NoStream (-1), Any (-2) or Exists (-4)."
        })
      }
      if (request.records.length === 0) {
        violations.push({ field: "Records", description: "Stream append request must contain at least one record" })
      }
      if (violations.length > 0) return fail(badRequest("AppendRequest", violations))
      const denied = authorize(ctx.auth, who, request.stream, "write", "AppendSession")
      if (denied !== undefined) return fail(denied)
      const key = request.stream.toUpperCase()
      if (seen.has(key)) return fail(alreadyInSession(request.stream))
      seen.add(key)
      requests.push({ stream: request.stream, raw })
      const index = requests.length - 1
      for (const record of request.records) {
        const prepared = prepareRecord(record, false)
        if (isRpcFailure(prepared)) return fail(prepared)
        if (prepared.size > ctx.maxRecordSize) {
          return fail(recordSizeExceeded(request.stream, prepared.recordId, prepared.size, ctx.maxRecordSize))
        }
        total += prepared.size
        if (total > ctx.maxAppendSize) return fail(transactionSizeExceeded(indexes.length + 1, total, ctx.maxAppendSize))
        pending.push(prepared.event)
        indexes.push(index)
      }
    } catch {
      fail(unhandled())
    }
  })
  call.on("end", () => {
    if (done) return
    if (requests.length === 0) return fail(noRequests())
    let outcome: MultiWriteOutcome
    try {
      const records = pending.toArray().map((event, k) => ({ index: indexes[k]!, event }))
      pending.clear()
      outcome = ctx.store.appendMany(requests.map((r): StreamCheck => ({ stream: r.stream, expected: toExpected(r.raw ?? -2n) })), records)
    } catch (e) {
      return fail(writeFailure(e))
    }
    if (outcome._tag === "Failed") {
      // RequestManagerBase: a tombstoned stream, or a soft-deleted one expected to exist, makes it
      // StreamDeleted; the first failure names the stream
      const first = outcome.failures[0]!
      const deleted = outcome.failures.some((f) =>
        f.actual === "tombstoned" || (f.softDeleted && requests[f.index]!.raw === -4n)
      )
      const stream = requests[first.index]!.stream
      if (deleted) return fail(tombstoned(stream))
      return fail(revisionConflict(stream, requests[first.index]!.raw ?? 0n, BigInt(first.actual === "tombstoned" ? -1 : first.actual)))
    }
    const success = outcome
    // acknowledged only once durable (at once in memory; after the group commit with --db)
    ctx.store.whenDurable((error) => {
      if (error !== undefined) return fail(unhandled())
      if (done) return
      done = true
      callback(null, {
        output: requests.map((r, i) => ({ stream: r.stream, streamRevision: BigInt(success.revisions[i]!) })),
        position: BigInt(success.position)
      })
    })
  })
}

// ---------------------------------------------------------------------------------------------
// AppendRecords

const makeAppendRecords = (ctx: V2StreamsContext) =>
(call: ServerCall<AppendRecordsRequest, AppendRecordsResponse>, callback: UnaryCallback<AppendRecordsResponse>): void => {
  try {
    const who = authenticate(ctx.auth, call, "AppendRecords")
    if (isRpcFailure(who)) return callback(who)
    const request = call.request
    // AppendRecordsRequestValidator (the request validation interceptor)
    const violations: Array<Violation> = []
    if (request.records.length === 0) {
      violations.push({ field: "Records", description: "Append records request must contain at least one record." })
    }
    request.checks.forEach((check, i) => {
      const state = check.type
      if (state === undefined) {
        violations.push({ field: `Checks[${i}].TypeCase`, description: "Each consistency check must specify a type." })
        return
      }
      const v = streamNameViolation(state.value.stream, `Checks[${i}].StreamState.Stream`)
      if (v !== undefined) violations.push(v)
      const e = state.value.expectedState
      if (!(e >= 0n || e === -1n || e === -4n || e === -5n || e === -6n)) {
        violations.push({
          field: `Checks[${i}].StreamState.ExpectedState`,
          description:
            "Expected state must be positive or one of the allowed constants: NoStream (-1), Exists (-4), Deleted (-5), or Tombstoned (-6). Any (-2) is not allowed."
        })
      }
    })
    const seen = new Set<string>()
    for (const check of request.checks) {
      if (check.type === undefined) continue
      const key = check.type.value.stream.toUpperCase()
      if (seen.has(key)) {
        violations.push({ field: "Checks", description: "Each stream can only appear once in consistency checks." })
        break
      }
      seen.add(key)
    }
    if (violations.length > 0) return callback(badRequest("AppendRecordsRequest", violations))

    // the checks first, then each stream only written (expected any), by first spelling
    const states: Array<{ readonly stream: string; readonly expected: bigint }> = []
    const byName = new Map<string, number>()
    const indexOf = (stream: string): number | undefined => byName.get(stream.toUpperCase())
    for (const check of request.checks) {
      if (check.type === undefined) continue
      const key = check.type.value.stream.toUpperCase()
      if (!byName.has(key)) byName.set(key, states.length)
      states.push({ stream: check.type.value.stream, expected: check.type.value.expectedState })
    }
    const records: Array<{ readonly index: number; readonly event: ProposedEvent }> = []
    let total = 0
    for (const record of request.records) {
      const prepared = prepareRecord(record, true)
      if (isRpcFailure(prepared)) return callback(prepared)
      const stream = record.stream!
      let index = indexOf(stream)
      if (index === undefined) {
        index = states.length
        byName.set(stream.toUpperCase(), index)
        states.push({ stream, expected: -2n })
      }
      if (prepared.size > ctx.maxRecordSize) {
        return callback(recordSizeExceeded(stream, prepared.recordId, prepared.size, ctx.maxRecordSize))
      }
      total += prepared.size
      if (total > ctx.maxAppendSize) return callback(transactionSizeExceeded(records.length + 1, total, ctx.maxAppendSize))
      records.push({ index, event: prepared.event })
    }
    const written = Array.from(new Set(records.map((r) => r.index)))
    const writes = new Set(written)
    for (const i of written) {
      const denied = authorize(ctx.auth, who, states[i]!.stream, "write", "AppendRecords")
      if (denied !== undefined) return callback(denied)
    }
    for (let i = 0; i < states.length; i++) {
      if (writes.has(i)) continue
      const denied = authorize(ctx.auth, who, states[i]!.stream, "read", "AppendRecords")
      if (denied !== undefined) return callback(denied)
    }
    let outcome: MultiWriteOutcome
    try {
      outcome = ctx.store.appendMany(states.map((s) => ({ stream: s.stream, expected: toExpected(s.expected) })), records)
    } catch (e) {
      return callback(writeFailure(e))
    }
    if (outcome._tag === "Failed") {
      return callback(consistencyViolation(outcome.failures.map((f) => ({
        checkIndex: f.index,
        type: {
          $case: "streamState",
          value: {
            stream: states[f.index]!.stream,
            expectedState: states[f.index]!.expected,
            actualState: f.actual === "tombstoned" ? -6n : f.softDeleted ? -5n : BigInt(f.actual)
          }
        }
      }))))
    }
    const success = outcome
    ctx.store.whenDurable((error) => {
      if (error !== undefined) return callback(unhandled())
      callback(null, {
        revisions: written.map((i) => ({ stream: states[i]!.stream, revision: BigInt(success.revisions[i]!) })),
        position: BigInt(success.position)
      })
    })
  } catch {
    callback(unhandled())
  }
}

/**
 * The v2 streams service implementation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeV2StreamsHandler = (ctx: V2StreamsContext): ServiceImplementation => ({
  appendSession: makeAppendSession(ctx),
  appendRecords: makeAppendRecords(ctx)
})
