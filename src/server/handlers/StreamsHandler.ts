/**
 * The `event_store.client.streams.Streams` service of the embedded node: Append, BatchAppend,
 * Read (see ReadHandler), Delete and Tombstone, answering like a real node (PROTOCOL.md §1-2).
 *
 * @since 0.1.0
 */
import {
  type AppendReq,
  type AppendResp,
  type DeleteReq,
  type DeleteResp,
  type ReadReq,
  ReadResp,
  StreamsService,
  type TombstoneReq,
  type TombstoneResp
} from "../../generated/streams.ts"
import { Access, type Auth } from "../Auth.ts"
import {
  invalidArgumentOf,
  invalidArgument,
  isRpcFailure,
  logFailed,
  writeFailed,
  maximumAppendEventSizeExceeded,
  maximumAppendSizeExceeded,
  requiredArgument,
  type RpcFailure,
  streamDeleted,
  unhandled,
  wrongExpectedVersion
} from "../errors.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"
import { LogFailedError } from "../storage/Log.ts"
import { type Expected, expectedVersionNumber, type Store, type WriteOutcome } from "../storage/Store.ts"
import { WriteRefused } from "../storage/WriteValidation.ts"
import { decodeAppendReq, decodeBatchAppendReq } from "../codec/BatchAppendDecoding.ts"
import { PendingEvents } from "../codec/PendingEvents.ts"
import { makeBatchAppend } from "../streams/BatchAppendHandler.ts"
import {
  authenticate,
  positionOf,
  streamNameOf,
  toExpected,
  toProposedEvent,
  uuidToString
} from "../codec/StreamsRequest.ts"

const MAX_U64 = 18446744073709551615n

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
 * `ReadResp` bytes (the node caches encoded events), and Append and BatchAppend requests decoded by
 * {@link decodeAppendReq} and {@link decodeBatchAppendReq} (event data kept as views, not copies).
 *
 * @since 0.1.0
 * @category definitions
 */
export const StreamsServiceDefinition: ServiceDefinition = {
  ...StreamsService,
  append: {
    ...StreamsService.append,
    requestDeserialize: decodeAppendReq
  },
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
        if (error !== undefined) return fail(writeFailed(error))
        if (done) return
        done = true
        callback(null, appendResponse(exp, outcome))
      })
    } catch (e) {
      // an event the log cannot hold: refused before anything was staged
      fail(e instanceof LogFailedError ? logFailed(e.failure) : e instanceof WriteRefused ? invalidArgument(e.message) : unhandled())
    }
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
            ? callback(writeFailed(error))
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
