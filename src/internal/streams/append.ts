/**
 * `Streams.append`: validation, then one request on the shared BatchAppend call, or a plain
 * `Append` call when the append carries its own credentials or the node has no BatchAppend.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { NewEvent } from "../../domain/NewEvent.ts"
import type { StreamState } from "../../domain/StreamState.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import { WrongCurrentVersion } from "../../errors/WrongCurrentVersion.ts"
import { Code } from "../../generated/code.ts"
import type { AppendReq, AppendReq_ProposedMessage, AppendResp } from "../../generated/streams.ts"
import { expectedRevision, streamIdentifier, uuidString } from "../convert.ts"
import type { CallError } from "../transport/CallError.ts"
import type { CallOptions } from "../transport/Options.ts"
import { canRetryAppend } from "../transport/Retry.ts"
import { deadlineAt } from "../transport/Deadline.ts"
import { inject } from "../transport/TraceContext.ts"
import type { TransportShape } from "../transport/Transport.ts"
import type { BatchAppender } from "./BatchAppender.ts"
import { type AppendError, toAppendError } from "./errors.ts"
import { Append } from "./methods.ts"
import * as validate from "./validate.ts"

/**
 * Options of writes: the expected state of the stream plus per-call options.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteOptions extends CallOptions {
  readonly currentVersion: StreamState
}

const isIterable = (value: unknown): value is Iterable<NewEvent> =>
  typeof value === "object" && value !== null && Symbol.iterator in value

const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const fromAppendResponse = (stream: string, expected: StreamState) => (response: AppendResp): Effect.Effect<bigint, CallError> => {
  const result = response.result
  if (result?.$case === "success") {
    const position = result.value.positionOption
    if (position?.$case === "position") return Effect.succeed(position.value.commitPosition)
    return Effect.fail(new GrpcError({ code: Code.UNKNOWN, details: "Append succeeded without a position", metadata: {} }))
  }
  if (result?.$case === "wrongExpectedVersion") {
    const w = result.value
    const actual = w.currentRevisionOption?.$case === "currentRevision"
      ? w.currentRevisionOption.value
      : w.currentRevisionOption?.$case === "currentNoStream"
      ? "no_stream" as const
      : w.currentRevisionOption2060?.$case === "currentRevision2060"
      ? w.currentRevisionOption2060.value
      : "no_stream" as const
    return Effect.fail(new WrongCurrentVersion({ stream, expected, actual }))
  }
  return Effect.fail(new GrpcError({ code: Code.UNKNOWN, details: "Empty append response", metadata: {} }))
}

/**
 * Makes `append` on a transport and its batch appender.
 *
 * @internal
 */
export const make = (transport: TransportShape, batch: BatchAppender) => {
  const measureAppend = transport.measured("Streams.append")
  let batchUnsupported = false
  const isUnimplemented = (error: CallError) => error._tag === "GrpcError" && error.code === Code.UNIMPLEMENTED
  return (
    stream: string,
    events: NewEvent | Iterable<NewEvent>,
    options: WriteOptions
  ): Effect.Effect<bigint, AppendError> =>
    transport.produce("Streams.append", () => producerAttributes(stream, events), (trace) =>
    Effect.clockWith((clock): Effect.Effect<bigint, AppendError> => {
      const list: ReadonlyArray<NewEvent> = isIterable(events) ? Array.from(events) : [events]
      const problem = validate.streamName(stream) ?? validate.streamState(options.currentVersion) ??
        validate.events(list)
      if (problem) return Effect.fail(problem)
      // with a span, its trace context goes into each event's JSON metadata (none without one)
      const proposed: Array<AppendReq_ProposedMessage> = list.map((event) => ({
        id: uuidString(event.id),
        metadata: [{ key: "type", value: event.type }, { key: "content-type", value: event.contentType }],
        customMetadata: toBuffer(trace === undefined ? event.metadata : inject(event.metadata, trace)),
        data: toBuffer(event.data)
      }))
      // one deadline for the operation, retries included
      const timeoutMs = transport.timeoutMillis(options, "reply")
      const deadline = deadlineAt(clock.currentTimeMillisUnsafe(), timeoutMs)
      const viaAppend = Effect.suspend(() => {
        const messages: Array<AppendReq> = [{
          content: {
            $case: "options",
            value: { streamIdentifier: streamIdentifier(stream), expectedStreamRevision: expectedRevision(options.currentVersion) }
          }
        }]
        for (const value of proposed) messages.push({ content: { $case: "proposedMessage", value } })
        return Effect.flatMap(
          transport.clientStream(Append, messages, { options, kind: "write", context: { stream }, deadline }),
          fromAppendResponse(stream, options.currentVersion)
        )
      })
      // One long-lived BatchAppend call serves every append without per-call credentials (its
      // headers are fixed when it opens); a node without BatchAppend gets plain Append calls.
      if (options.credentials !== undefined || batchUnsupported) {
        return Effect.mapError(transport.retry(viaAppend, deadline, "Streams.append", canRetryAppend), toAppendError)
      }
      const viaBatch = batch.append(stream, options.currentVersion, proposed, deadline, timeoutMs, clock)
      // The common path is the batch append alone: its one failure handler switches to Append
      // (no BatchAppend on the node), hands a failure after which an append may be repeated (its
      // event ids are fixed: `canRetryAppend`) to the retry Schedule (which
      // sees it as the first failure), or narrows the error.
      return Effect.catch(viaBatch, (error): Effect.Effect<bigint, AppendError> => {
        if (isUnimplemented(error)) {
          batchUnsupported = true
          return Effect.mapError(transport.retry(viaAppend, deadline, "Streams.append", canRetryAppend), toAppendError)
        }
        if (!canRetryAppend(error)) return Effect.fail(toAppendError(error))
        let first: CallError | undefined = error
        const again = Effect.suspend((): Effect.Effect<bigint, CallError> => {
          if (first === undefined) {
            return batchUnsupported ? viaAppend : Effect.catchIf(
              batch.append(stream, options.currentVersion, proposed, deadline, timeoutMs, clock),
              isUnimplemented,
              () => {
                batchUnsupported = true
                return viaAppend
              }
            )
          }
          const replay = first
          first = undefined
          return Effect.fail(replay)
        })
        return Effect.mapError(transport.retry(again, deadline, "Streams.append", canRetryAppend), toAppendError)
      })
    })).pipe(measureAppend)
}

// OpenTelemetry's database and messaging attributes of an append (called only when a span is made)
const producerAttributes = (stream: string, events: NewEvent | Iterable<NewEvent>): Record<string, unknown> => {
  const count = Array.isArray(events) ? events.length : isIterable(events) ? undefined : 1
  return {
    "db.collection.name": stream,
    "db.operation.name": "append",
    "messaging.system": "eventstoredb",
    "messaging.operation.type": "send",
    "messaging.operation.name": "append",
    "messaging.destination.name": stream,
    ...(count !== undefined && count > 1 ? { "messaging.batch.message_count": count } : {}),
    ...(count === 1 && !isIterable(events) ? { "messaging.message.id": events.id } : {})
  }
}
