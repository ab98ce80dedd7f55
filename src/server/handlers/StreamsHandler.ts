/**
 * The `event_store.client.streams.Streams` service of the embedded node: Append, BatchAppend,
 * Read (see ReadHandler), Delete and Tombstone, answering like a real node (PROTOCOL.md §1-2).
 *
 * @since 0.1.0
 */
import { Any } from "../../generated/google/protobuf/any.ts"
import {
  AccessDenied,
  BadRequest,
  MaximumAppendEventSizeExceeded,
  MaximumAppendSizeExceeded,
  StreamDeleted,
  type StreamIdentifier,
  Timeout,
  type UUID,
  WrongExpectedVersion
} from "../../generated/shared.ts"
import type { Status } from "../../generated/status.ts"
import {
  type AppendReq,
  type AppendReq_ProposedMessage,
  type AppendResp,
  type BatchAppendReq,
  type BatchAppendReq_Options,
  type BatchAppendResp,
  type DeleteReq,
  type DeleteResp,
  type ReadReq,
  ReadResp,
  StreamsService,
  type TombstoneReq,
  type TombstoneResp
} from "../../generated/streams.ts"
import { Access, type Auth, type Principal } from "../Auth.ts"
import {
  accessDenied,
  invalidArgumentOf,
  isRpcFailure,
  logFailed,
  maximumAppendEventSizeExceeded,
  maximumAppendSizeExceeded,
  missingRequiredMetadataProperty,
  requiredArgument,
  type RpcFailure,
  streamDeleted,
  unhandled,
  wrongExpectedVersion
} from "../errors.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"
import { LogFailedError } from "../storage/Log.ts"
import { type Expected, expectedVersionNumber, type ProposedEvent, type Store, type WriteOutcome } from "../storage/Store.ts"
import { fromWire } from "../codec/Uuid.ts"
import { decodeBatchAppendReq } from "../codec/BatchAppendDecoding.ts"
import { PendingEvents } from "../codec/PendingEvents.ts"

/**
 * What the Streams service needs from the node.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamsContext {
  readonly store: Store
  readonly auth: Auth
  /** The Read method (handlers/ReadHandler.ts), built by the composition root. */
  readonly read: (call: ServerCall<ReadReq, ReadResp>) => void
  readonly maxAppendSize: number
  readonly maxAppendEventSize: number
  /** Open BatchAppend calls, ended on shutdown. */
  readonly activeBatches?: Set<() => void> | undefined
}

/**
 * The Streams service definition with a Read response serializer that also accepts pre-encoded
 * `ReadResp` bytes (the node caches encoded events), and BatchAppend requests decoded by
 * {@link decodeBatchAppendReq} (event data kept as views, not copies).
 *
 * @since 0.1.0
 * @category definitions
 */
export const StreamsServiceDefinition: ServiceDefinition = {
  ...StreamsService,
  batchAppend: {
    ...StreamsService.batchAppend,
    requestDeserialize: decodeBatchAppendReq
  },
  read: {
    ...StreamsService.read,
    responseSerialize: (value: ReadResp | Buffer): Buffer =>
      Buffer.isBuffer(value) ? value : Buffer.from(ReadResp.encode(value).finish())
  }
}

const MAX_U64 = 18446744073709551615n

type ExpectedOneof =
  | { $case: "revision" | "streamPosition"; value: bigint }
  | { $case: "noStream" | "any" | "streamExists"; value: unknown }
  | undefined

const toExpected = (oneof: ExpectedOneof): Expected | undefined => {
  switch (oneof?.$case) {
    case "revision":
    case "streamPosition":
      return { _tag: "Revision", revision: oneof.value as bigint }
    case "noStream":
      return { _tag: "NoStream" }
    case "any":
      return { _tag: "Any" }
    case "streamExists":
      return { _tag: "StreamExists" }
    default:
      return undefined
  }
}

const streamNameOf = (id: StreamIdentifier | undefined): string | undefined =>
  id === undefined || id.streamName.length === 0 ? undefined : id.streamName.toString("utf8")

/** protobuf's JSON rendering of a UUID message, as `proposedMessage.Id.ToString()` gives it. */
const uuidToString = (uuid: UUID | undefined): string => {
  const v = uuid?.value
  if (v === undefined) return "{ }"
  if (v.$case === "string") return `{ "string": ${JSON.stringify(v.value)} }`
  return `{ "structured": { "mostSignificantBits": "${v.value.mostSignificantBits}", "leastSignificantBits": "${v.value.leastSignificantBits}" } }`
}

/**
 * Validates one proposed message's required metadata; returns the event, its size and, for a
 * missing or bad id, the failure to answer once the size checks have passed (a real node parses
 * the id last).
 */
const toProposedEvent = (
  message: AppendReq_ProposedMessage
): { readonly event: ProposedEvent; readonly size: number; readonly idFailure: RpcFailure | undefined } | RpcFailure => {
  let eventType: string | undefined
  let contentType: string | undefined
  for (const entry of message.metadata) {
    if (entry.key === "type") eventType = entry.value
    else if (entry.key === "content-type") contentType = entry.value
  }
  if (eventType === undefined) return missingRequiredMetadataProperty("type")
  if (contentType === undefined) return missingRequiredMetadataProperty("content-type")
  const size = message.data.length + message.customMetadata.length + 2 * eventType.length
  // Uuid.FromDto(id).ToGuid() throws ArgumentNullException / FormatException: UNKNOWN
  const eventId = fromWire(message.id)
  return {
    idFailure: eventId === undefined ? unhandled() : undefined,
    event: {
      eventId: eventId ?? "",
      eventType,
      isJson: contentType === "application/json",
      data: message.data,
      customMetadata: message.customMetadata
    },
    size
  }
}

const positionOf = (position: number) => ({ commitPosition: BigInt(position), preparePosition: BigInt(position) })

const appendResponse = (expected: Expected, outcome: WriteOutcome): AppendResp => {
  if (outcome._tag === "Success") {
    return {
      result: {
        $case: "success",
        value: {
          currentRevisionOption: outcome.currentRevision < 0
            ? { $case: "noStream", value: {} }
            : { $case: "currentRevision", value: BigInt(outcome.currentRevision) },
          positionOption: { $case: "position", value: positionOf(outcome.position) }
        }
      }
    }
  }
  if (outcome._tag !== "WrongExpectedVersion") throw new Error("unreachable")
  const current = outcome.currentRevision
  return {
    result: {
      $case: "wrongExpectedVersion",
      value: {
        currentRevisionOption2060: current < 0
          ? { $case: "noStream2060", value: {} }
          : { $case: "currentRevision2060", value: BigInt(current) },
        currentRevisionOption: current < 0
          ? { $case: "currentNoStream", value: {} }
          : { $case: "currentRevision", value: BigInt(current) },
        expectedRevisionOption2060: expected._tag === "Any"
          ? { $case: "any2060", value: {} }
          : expected._tag === "StreamExists"
          ? { $case: "streamExists2060", value: {} }
          : expected._tag === "NoStream"
          ? { $case: "expectedRevision2060", value: MAX_U64 }
          : { $case: "expectedRevision2060", value: expected.revision },
        expectedRevisionOption: expected._tag === "Any"
          ? { $case: "expectedAny", value: {} }
          : expected._tag === "StreamExists"
          ? { $case: "expectedStreamExists", value: {} }
          : expected._tag === "NoStream"
          ? { $case: "expectedNoStream", value: {} }
          : { $case: "expectedRevision", value: expected.revision }
      }
    }
  }
}

const pack = (typeName: string, bytes: Uint8Array): Any => ({
  typeUrl: `type.googleapis.com/${typeName}`,
  value: Buffer.from(bytes)
})

const batchStatus = {
  wrongExpectedVersion: (current: number, expected: Expected): Status => ({
    code: 6,
    message: "WrongExpectedVersion",
    details: pack(
      "event_store.client.WrongExpectedVersion",
      WrongExpectedVersion.encode({
        currentStreamRevisionOption: current < 0
          ? { $case: "currentNoStream", value: {} }
          : { $case: "currentStreamRevision", value: BigInt(current) },
        expectedStreamPositionOption: expected._tag === "Any"
          ? { $case: "expectedAny", value: {} }
          : expected._tag === "StreamExists"
          ? { $case: "expectedStreamExists", value: {} }
          : expected._tag === "NoStream"
          ? { $case: "expectedNoStream", value: {} }
          : { $case: "expectedStreamPosition", value: expected.revision }
      }).finish()
    )
  }),
  streamDeleted: (stream: Buffer): Status => ({
    code: 5,
    message: "StreamDeleted",
    details: pack("event_store.client.StreamDeleted", StreamDeleted.encode({ streamIdentifier: { streamName: stream } }).finish())
  }),
  accessDenied: (): Status => ({
    code: 7,
    message: "AccessDenied",
    details: pack("event_store.client.AccessDenied", AccessDenied.encode({}).finish())
  }),
  timeout: (): Status => ({
    code: 4,
    message: "Timeout",
    details: pack("event_store.client.Timeout", Timeout.encode({}).finish())
  }),
  maximumAppendSizeExceeded: (max: number): Status => ({
    code: 3,
    message: "MaximumAppendSizeExceeded",
    details: pack(
      "event_store.client.MaximumAppendSizeExceeded",
      MaximumAppendSizeExceeded.encode({ maxAppendSize: max >>> 0 }).finish()
    )
  }),
  maximumAppendEventSizeExceeded: (eventId: string, size: number, max: number): Status => ({
    code: 3,
    message: "MaximumAppendEventSizeExceeded",
    details: pack(
      "event_store.client.MaximumAppendEventSizeExceeded",
      MaximumAppendEventSizeExceeded.encode({
        eventId,
        proposedEventSize: size >>> 0,
        maxAppendEventSize: max >>> 0
      }).finish()
    )
  }),
  badRequest: (message: string): Status => ({
    code: 3,
    message: "BadRequest",
    details: pack("event_store.client.BadRequest", BadRequest.encode({ message }).finish())
  })
}

/** The text of an RpcException's `Message` in .NET (used inside BadRequest statuses). */
const rpcExceptionText = (failure: RpcFailure): string => {
  const names: Record<number, string> = { 3: "InvalidArgument", 2: "Unknown", 9: "FailedPrecondition" }
  return `Status(StatusCode="${names[failure.code] ?? String(failure.code)}", Detail="${failure.details}")`
}

const authenticate = (auth: Auth, metadata: ServerCall["metadata"]): Principal | RpcFailure => auth.authorize(metadata, Access.any)

const makeAppend = (ctx: StreamsContext) =>
(call: ServerCall<AppendReq, AppendResp>, callback: UnaryCallback<AppendResp>): void => {
  let done = false
  let stream: string | undefined
  let expected: Expected | undefined
  const events = new PendingEvents()
  let size = 0
  const fail = (failure: RpcFailure) => {
    if (done) return
    done = true
    events.clear()
    callback(failure)
  }
  call.on("cancelled", () => {
    done = true
    events.clear()
  })
  const principal = authenticate(ctx.auth, call.metadata)
  if (isRpcFailure(principal)) return fail(principal)
  call.on("data", (request: AppendReq) => {
    if (done) return
    try {
      const content = request.content
      if (stream === undefined) {
        if (content?.$case !== "options") return fail(unhandled())
        // Streams.Append.cs: the expected revision first, then the stream name (a missing
        // identifier is a NullReferenceException there: UNKNOWN)
        const exp = toExpected(content.value.expectedStreamRevision)
        if (exp === undefined) {
          return fail(invalidArgumentOf("None", "EventStore.Client.Streams.AppendReq+Types+Options+ExpectedStreamRevisionOneofCase"))
        }
        if (content.value.streamIdentifier === undefined) return fail(unhandled())
        const name = streamNameOf(content.value.streamIdentifier)
        if (name === undefined) return fail(requiredArgument("streamIdentifier", "EventStore.Client.StreamIdentifier"))
        const allowed = ctx.auth.authorize(principal, Access.stream(name, "write"))
        if (isRpcFailure(allowed)) return fail(allowed)
        stream = name
        expected = exp
        return
      }
      if (content?.$case !== "proposedMessage") return fail(unhandled())
      const proposed = toProposedEvent(content.value)
      if (isRpcFailure(proposed)) return fail(proposed)
      if (proposed.size > ctx.maxAppendEventSize) {
        return fail(maximumAppendEventSizeExceeded(uuidToString(content.value.id), proposed.size, ctx.maxAppendEventSize))
      }
      size += proposed.size
      if (size > ctx.maxAppendSize) return fail(maximumAppendSizeExceeded(ctx.maxAppendSize))
      if (proposed.idFailure !== undefined) return fail(proposed.idFailure)
      events.push(proposed.event)
    } catch {
      fail(unhandled())
    }
  })
  call.on("end", () => {
    if (done) return
    if (stream === undefined || expected === undefined) return fail(unhandled())
    try {
      const outcome = ctx.store.append(stream, expected, events.toArray())
      if (outcome._tag === "StreamDeleted") return fail(streamDeleted(stream))
      const exp = expected
      // acknowledged only once durable (at once in memory; after the group commit with --db)
      ctx.store.whenDurable((error) => {
        if (error !== undefined) return fail(logFailed(error))
        if (done) return
        done = true
        callback(null, appendResponse(exp, outcome))
      })
    } catch (e) {
      fail(e instanceof LogFailedError ? logFailed(e.failure) : unhandled())
    }
  })
}

interface PendingBatch {
  readonly correlationId: UUID | undefined
  readonly stream: string
  readonly streamBytes: Buffer
  readonly expected: Expected
  readonly events: PendingEvents
  size: number
  readonly timer: ReturnType<typeof setTimeout> | undefined
}

const WRITE_TIMEOUT_MS = 2000

const requestedTimeoutMs = (options: BatchAppendReq_Options): number => {
  const d = options.deadlineOption
  if (d === undefined) return Number.POSITIVE_INFINITY
  if (d.$case === "deadline") return Number(d.value.seconds) * 1000 + d.value.nanos / 1e6
  return d.value.getTime() - Date.now()
}

const makeBatchAppend = (ctx: StreamsContext) => (call: ServerCall<BatchAppendReq, BatchAppendResp>): void => {
  const pending = new Map<string, PendingBatch>()
  let closed = false
  const send = (response: BatchAppendResp) => {
    if (closed) return
    call.write(response)
  }
  const cleanup = () => {
    closed = true
    ctx.activeBatches?.delete(shutdown)
    for (const p of pending.values()) if (p.timer !== undefined) clearTimeout(p.timer)
    pending.clear()
  }
  const shutdown = () => {
    if (closed) return
    cleanup()
    call.end()
  }
  ctx.activeBatches?.add(shutdown)
  call.on("cancelled", cleanup)
  const principal = authenticate(ctx.auth, call.metadata)
  if (isRpcFailure(principal)) {
    cleanup()
    call.sendStatus(principal)
    return
  }
  const keyOf = (uuid: UUID | undefined): string | undefined => fromWire(uuid)

  const sendBatchOutcome = (
    correlationId: UUID | undefined,
    streamIdentifier: { readonly streamName: Buffer },
    batch: PendingBatch,
    outcome: WriteOutcome
  ): void => {
    switch (outcome._tag) {
      case "Success":
        send({
          correlationId,
          streamIdentifier,
          result: {
            $case: "success",
            value: {
              currentRevisionOption: outcome.currentRevision < 0
                ? { $case: "noStream", value: {} }
                : { $case: "currentRevision", value: BigInt(outcome.currentRevision) },
              positionOption: { $case: "position", value: positionOf(outcome.position) }
            }
          }
        })
        return
      case "WrongExpectedVersion":
        send({
          correlationId,
          streamIdentifier,
          result: { $case: "error", value: batchStatus.wrongExpectedVersion(outcome.currentRevision, batch.expected) }
        })
        return
      case "StreamDeleted":
        send({ correlationId, streamIdentifier, result: { $case: "error", value: batchStatus.streamDeleted(batch.streamBytes) } })
        return
    }
  }

  call.on("data", (request: BatchAppendReq) => {
    if (closed) return
    const correlationId = request.correlationId
    const key = keyOf(correlationId)
    const options = request.options
    try {
      if (key === undefined) {
        send({
          correlationId,
          streamIdentifier: options?.streamIdentifier,
          result: { $case: "error", value: batchStatus.badRequest("Invalid or missing correlation id.") }
        })
        return
      }
      if (options !== undefined) {
        const name = streamNameOf(options.streamIdentifier)
        if (name !== undefined && isRpcFailure(ctx.auth.authorize(principal, Access.stream(name, "write")))) {
          send({ correlationId, streamIdentifier: options.streamIdentifier, result: { $case: "error", value: batchStatus.accessDenied() } })
          return
        }
        if (name === undefined) {
          send({
            correlationId,
            streamIdentifier: options.streamIdentifier,
            result: { $case: "error", value: batchStatus.badRequest("Required field StreamIdentifier not set.") }
          })
          return
        }
        const timeoutMs = Math.min(requestedTimeoutMs(options), WRITE_TIMEOUT_MS)
        if (!(timeoutMs > 0)) {
          send({ correlationId, streamIdentifier: options.streamIdentifier, result: { $case: "error", value: batchStatus.timeout() } })
          return
        }
        const expected = toExpected(options.expectedStreamPosition)
        if (expected === undefined) {
          send({
            correlationId,
            streamIdentifier: options.streamIdentifier,
            result: {
              $case: "error",
              value: batchStatus.badRequest(rpcExceptionText(
                invalidArgumentOf("None", "EventStore.Client.Streams.BatchAppendReq+Types+Options+ExpectedStreamPositionOneofCase")
              ))
            }
          })
          return
        }
        if (!pending.has(key)) {
          const streamBytes = options.streamIdentifier!.streamName
          const timer = request.isFinal ? undefined : setTimeout(() => {
            if (pending.delete(key)) {
              send({ correlationId, streamIdentifier: { streamName: streamBytes }, result: { $case: "error", value: batchStatus.timeout() } })
            }
          }, timeoutMs)
          timer?.unref?.()
          pending.set(key, { correlationId, stream: name, streamBytes, expected, events: new PendingEvents(), size: 0, timer })
        }
      }
      const batch = pending.get(key)
      if (batch === undefined) return
      for (const message of request.proposedMessages) {
        const proposed = toProposedEvent(message)
        if (isRpcFailure(proposed)) {
          throw proposed
        }
        if (proposed.idFailure !== undefined) throw proposed.idFailure
        if (proposed.size > ctx.maxAppendEventSize) {
          pending.delete(key)
          if (batch.timer !== undefined) clearTimeout(batch.timer)
          send({
            correlationId,
            streamIdentifier: { streamName: batch.streamBytes },
            result: {
              $case: "error",
              value: batchStatus.maximumAppendEventSizeExceeded(proposed.event.eventId, proposed.size, ctx.maxAppendEventSize)
            }
          })
          return
        }
        batch.size += proposed.size
        batch.events.push(proposed.event)
      }
      if (batch.size > ctx.maxAppendSize) {
        pending.delete(key)
        if (batch.timer !== undefined) clearTimeout(batch.timer)
        send({
          correlationId,
          streamIdentifier: { streamName: batch.streamBytes },
          result: { $case: "error", value: batchStatus.maximumAppendSizeExceeded(ctx.maxAppendSize) }
        })
        return
      }
      if (!request.isFinal) return
      pending.delete(key)
      if (batch.timer !== undefined) clearTimeout(batch.timer)
      const outcome = ctx.store.append(batch.stream, batch.expected, batch.events.toArray())
      const streamIdentifier = { streamName: batch.streamBytes }
      // acknowledged only once durable (at once in memory; after the group commit with --db)
      ctx.store.whenDurable((error) => {
        if (error !== undefined) {
          // the node stops (as a real node's process ends): the call ends UNAVAILABLE
          if (closed) return
          cleanup()
          call.sendStatus(logFailed(error))
          return
        }
        sendBatchOutcome(correlationId, streamIdentifier, batch, outcome)
      })
    } catch (e) {
      if (e instanceof LogFailedError) {
        // the node stops (as a real node's process ends): the call ends UNAVAILABLE
        cleanup()
        call.sendStatus(logFailed(e.failure))
        return
      }
      const text = isRpcFailure(e) ? rpcExceptionText(e) : "Exception was thrown by handler."
      const batch = pending.get(key ?? "")
      if (key !== undefined) pending.delete(key)
      if (batch?.timer !== undefined) clearTimeout(batch.timer)
      send({
        correlationId,
        streamIdentifier: options?.streamIdentifier ?? (batch === undefined ? undefined : { streamName: batch.streamBytes }),
        result: { $case: "error", value: batchStatus.badRequest(text) }
      })
    }
  })
  call.on("end", () => {
    if (closed) return
    // answer the writes still waiting for durability first
    ctx.store.whenDurable(() => {
      if (closed) return
      cleanup()
      call.end()
    })
  })
}

type DeleteLike = DeleteReq | TombstoneReq
type DeleteLikeResp = DeleteResp | TombstoneResp

const makeDelete = (ctx: StreamsContext, hard: boolean) =>
(call: ServerCall<DeleteLike, DeleteLikeResp>, callback: UnaryCallback<DeleteLikeResp>): void => {
  try {
    const principal = authenticate(ctx.auth, call.metadata)
    if (isRpcFailure(principal)) return callback(principal)
    // Streams.Delete.cs: options dereferenced first (missing: NullReferenceException, UNKNOWN),
    // then the expected revision, then the stream name (missing identifier: UNKNOWN too)
    const options = call.request.options
    if (options === undefined) return callback(unhandled())
    const expected = toExpected(options.expectedStreamRevision)
    if (expected === undefined) {
      return callback(invalidArgumentOf(
        "None",
        `EventStore.Client.Streams.${hard ? "Tombstone" : "Delete"}Req+Types+Options+ExpectedStreamRevisionOneofCase`
      ))
    }
    if (options.streamIdentifier === undefined) return callback(unhandled())
    const name = streamNameOf(options.streamIdentifier)
    if (name === undefined) return callback(requiredArgument("streamIdentifier", "EventStore.Client.StreamIdentifier"))
    const allowed = ctx.auth.authorize(principal, Access.stream(name, "delete"))
    if (isRpcFailure(allowed)) return callback(allowed)
    const outcome = hard ? ctx.store.tombstone(name, expected) : ctx.store.softDelete(name, expected)
    switch (outcome._tag) {
      case "Success":
        // acknowledged only once durable (at once in memory; after the group commit with --db)
        return ctx.store.whenDurable((error) =>
          error !== undefined
            ? callback(logFailed(error))
            : callback(null, { positionOption: { $case: "position", value: positionOf(outcome.position) } })
        )
      case "StreamDeleted":
        return callback(streamDeleted(name))
      case "WrongExpectedVersion":
        return callback(wrongExpectedVersion(
          "Delete",
          name,
          expectedVersionNumber(expected),
          outcome.currentRevision
        ))
    }
  } catch (e) {
    callback(e instanceof LogFailedError ? logFailed(e.failure) : unhandled())
  }
}

/**
 * The Streams service implementation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeStreamsHandler = (ctx: StreamsContext): ServiceImplementation => ({
  read: ctx.read,
  append: makeAppend(ctx),
  batchAppend: makeBatchAppend(ctx),
  delete: makeDelete(ctx, false),
  tombstone: makeDelete(ctx, true)
})
