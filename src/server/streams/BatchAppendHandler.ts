/**
 * The BatchAppend operation of the embedded node's Streams service: batches arrive in chunks on
 * one bidirectional call, each complete batch is one write, and each answer is a status with the
 * real node's error details (PROTOCOL.md §2).
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
  Timeout,
  type UUID,
  WrongExpectedVersion
} from "../../generated/shared.ts"
import type { Status } from "../../generated/status.ts"
import { type BatchAppendReq, type BatchAppendReq_Options, type BatchAppendResp } from "../../generated/streams.ts"
import { Access } from "../Auth.ts"
import { invalidArgumentOf, isRpcFailure, logFailed, RequestCanceledError, type RpcFailure } from "../errors.ts"
import type { ServerCall } from "../transport/ServerCall.ts"
import { LogFailedError } from "../storage/Log.ts"
import { type Expected, type WriteOutcome } from "../storage/Store.ts"
import { WriteRefused } from "../storage/WriteValidation.ts"
import { fromWire } from "../codec/Uuid.ts"
import { type AppendEvents, PendingEvents, WholeBatchEvents } from "../codec/PendingEvents.ts"
import { encodeBatchAppendSuccess } from "../codec/BatchAppendEncoding.ts"
import type { StreamsContext } from "../handlers/StreamsHandler.ts"
import { authenticate, streamNameOf, toExpected, toProposedEvent } from "../codec/StreamsRequest.ts"

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

/**
 * The `Timeout` status of one BatchAppend write (`Status.Timeout`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const batchTimeout = (): Status => batchStatus.timeout()

/** The text of an RpcException's `Message` in .NET (used inside BadRequest statuses). */
const rpcExceptionText = (failure: RpcFailure): string => {
  const names: Record<number, string> = { 3: "InvalidArgument", 2: "Unknown", 9: "FailedPrecondition" }
  return `Status(StatusCode="${names[failure.code] ?? String(failure.code)}", Detail="${failure.details}")`
}

interface PendingBatch {
  readonly correlationId: UUID | undefined
  readonly stream: string
  readonly streamBytes: Buffer
  readonly expected: Expected
  readonly events: AppendEvents
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

/**
 * BatchAppend: a bidirectional stream of batches (one or many chunks each), each appended as one
 * write once complete, answering per batch like a real node (PROTOCOL.md §2).
 */
export const makeBatchAppend = (ctx: StreamsContext) => (call: ServerCall<BatchAppendReq, BatchAppendResp>): void => {
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
        // the most frequent answer: hand-encoded (BatchAppendEncoding.ts), the same bytes
        if (!closed) call.writeFramed(encodeBatchAppendSuccess(correlationId, streamIdentifier.streamName, outcome.currentRevision, outcome.position))
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
          // a batch complete in this one message is never held: its events are kept as decoded
          // (copied out of the network buffers) instead of compacted for a wait
          const events = request.isFinal ? new WholeBatchEvents() : new PendingEvents()
          pending.set(key, { correlationId, stream: name, streamBytes, expected, events, size: 0, timer })
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
        if (error instanceof RequestCanceledError) {
          // a cluster leader stepped down before committing it: that write times out, the call
          // stays open (a real node's BatchAppend answers CommitTimeout with the write's Timeout)
          send({ correlationId, streamIdentifier, result: { $case: "error", value: batchStatus.timeout() } })
          return
        }
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
      const text = isRpcFailure(e) ? rpcExceptionText(e) : e instanceof WriteRefused ? e.message : "Exception was thrown by handler."
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

