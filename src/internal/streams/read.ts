/**
 * `Streams.read`, `get` and `getCurrentVersion`: reading one stream. Each run of the returned
 * Stream is a new call with its own cursor, so it can be run any number of times; after a
 * connection failure the run resumes right after the last event it delivered.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { RecordedEvent } from "../../domain/RecordedEvent.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { NotFound } from "../../errors/NotFound.ts"
import type { StreamDeleted } from "../../errors/StreamDeleted.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { Emit, TransportShape } from "../transport/Transport.ts"
import { type ReadStreamError, toReadStreamError, type TransportError } from "./errors.ts"
import { Read } from "./methods.ts"
import { type From, streamRequest } from "./readRequest.ts"
import * as validate from "./validate.ts"

/**
 * Options of reading one stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadStreamOptions extends CallOptions {
  /** Inclusive start position; the first (or, backwards, the last) event by default. */
  readonly streamPosition?: bigint | undefined
  readonly backwards?: boolean | undefined
  readonly resolveLinks?: boolean | undefined
  readonly limit?: number | bigint | undefined
}

/** @internal */
export const read = (
  transport: TransportShape,
  stream: string,
  options?: ReadStreamOptions
): Stream.Stream<RecordedEvent, ReadStreamError> => {
  const problem = validate.streamName(stream) ?? validate.position("streamPosition", options?.streamPosition)
  if (problem) return Stream.fail(problem)
  const limit = validate.limit(options?.limit)
  if (limit instanceof InvalidArgument) return Stream.fail(limit)
  const backwards = options?.backwards === true
  const resolveLinks = options?.resolveLinks === true
  return transport.stream({
    name: "Streams.read",
    kind: "read",
    options,
    context: { stream },
    attributes: { "db.collection.name": stream },
    narrow: toReadStreamError
  }, (spec) => {
    // the cursor of this run
    let next: From = options?.streamPosition ?? (backwards ? "end" : "start")
    let remaining = limit
    let exhausted = false
    return () => {
      if (remaining === 0n || exhausted) return Stream.empty
      return transport.serverStream(
        Read,
        streamRequest(stream, next, backwards, resolveLinks, remaining),
        spec,
        (message, emit: Emit<RecordedEvent>) => {
          if (message._tag === "event") {
            const event = message.event
            if (event === undefined) return
            const position = event.link?.streamName === stream ? event.link.streamPosition : event.streamPosition
            if (backwards) {
              if (position === 0n) exhausted = true
              else next = position - 1n
            } else next = position + 1n
            remaining--
            emit.push(event)
          } else if (message._tag === "streamNotFound") {
            emit.fail(new NotFound({ stream }))
          }
        }
      )
    }
  })
}

/** @internal */
export const get = (
  transport: TransportShape,
  stream: string,
  options?: ReadStreamOptions
): Effect.Effect<ReadonlyArray<RecordedEvent>, ReadStreamError> =>
  Stream.runCollect(read(transport, stream, options)).pipe(
    Effect.map((chunk) => Array.from(chunk)),
    transport.traceEffect("Streams.get", { "db.collection.name": stream })
  )

/** @internal */
export const getCurrentVersion = (
  transport: TransportShape,
  stream: string,
  options?: CallOptions
): Effect.Effect<bigint | "no_stream", StreamDeleted | TransportError> =>
  Stream.runHead(read(transport, stream, { ...options, backwards: true, limit: 1 })).pipe(
    Effect.map((head) => (head._tag === "Some" ? head.value.streamPosition : "no_stream" as const)),
    Effect.catchTag("NotFound", () => Effect.succeed("no_stream" as const)),
    transport.traceEffect("Streams.getCurrentVersion", { "db.collection.name": stream })
  )
