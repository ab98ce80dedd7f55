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
  let batchUnsupported = false
  return (
    stream: string,
    events: NewEvent | Iterable<NewEvent>,
    options: WriteOptions
  ): Effect.Effect<bigint, AppendError> =>
    Effect.suspend(() => {
      const list: ReadonlyArray<NewEvent> = isIterable(events) ? Array.from(events) : [events]
      const problem = validate.streamName(stream) ?? validate.streamState(options.currentVersion) ??
        validate.events(list)
      if (problem) return Effect.fail(problem)
      const proposed: Array<AppendReq_ProposedMessage> = list.map((event) => ({
        id: uuidString(event.id),
        metadata: [{ key: "type", value: event.type }, { key: "content-type", value: event.contentType }],
        customMetadata: toBuffer(event.metadata),
        data: toBuffer(event.data)
      }))
      // one deadline for the operation, retries included
      const deadline = transport.deadline(options, "write")
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
      const attempt: Effect.Effect<bigint, CallError> = options.credentials !== undefined || batchUnsupported
        ? viaAppend
        : batch.append(stream, options.currentVersion, proposed, deadline, transport.timeoutMillis(options, "write")).pipe(
          Effect.catchIf(
            (error) => error._tag === "GrpcError" && error.code === Code.UNIMPLEMENTED,
            () => {
              batchUnsupported = true
              return viaAppend
            }
          )
        )
      return transport.retry(attempt, deadline).pipe(
        Effect.mapError(toAppendError),
        transport.traceEffect("Streams.append", { "db.collection.name": stream, "db.operation.name": "append" })
      )
    })
}
