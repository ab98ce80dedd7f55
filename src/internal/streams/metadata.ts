/**
 * `Streams.getStreamMetadata` and `setStreamMetadata`: the last event of the metastream `$$name`,
 * read and written as JSON checked against the StreamMetadata schema.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { NewEvent } from "../../domain/NewEvent.ts"
import * as StreamMetadata from "../../domain/StreamMetadata.ts"
import type { StreamDeleted } from "../../errors/StreamDeleted.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import type { WriteOptions } from "./append.ts"
import type { AppendError, TransportError } from "./errors.ts"
import { read } from "./read.ts"
import * as validate from "./validate.ts"

/**
 * Stream metadata with the revision of the metastream event it was read from.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamMetadataResult {
  readonly metadata: StreamMetadata.StreamMetadata
  readonly version: bigint | "no_stream"
}

/** @internal */
export const getStreamMetadata = (
  transport: TransportShape,
  stream: string,
  options?: CallOptions
): Effect.Effect<StreamMetadataResult, StreamDeleted | TransportError> =>
  Stream.runHead(read(transport, `$$${stream}`, { ...options, backwards: true, limit: 1 })).pipe(
    Effect.map((head): StreamMetadataResult =>
      head._tag === "Some"
        ? { metadata: StreamMetadata.parse(head.value.data) ?? {}, version: head.value.streamPosition }
        : { metadata: {}, version: "no_stream" }
    ),
    Effect.catchTag("NotFound", () => Effect.succeed<StreamMetadataResult>({ metadata: {}, version: "no_stream" })),
    transport.traceEffect("Streams.getStreamMetadata", { "db.collection.name": stream })
  )

/** @internal */
export const setStreamMetadata = (
  transport: TransportShape,
  append: (stream: string, events: NewEvent, options: WriteOptions) => Effect.Effect<bigint, AppendError>,
  stream: string,
  metadata: StreamMetadata.StreamMetadata,
  options?: Partial<WriteOptions>
): Effect.Effect<void, AppendError> =>
  Effect.suspend(() => {
    const problem = validate.streamName(stream)
    if (problem) return Effect.fail(problem)
    const invalidMetadata = StreamMetadata.validate(metadata)
    if (invalidMetadata !== undefined) return Effect.fail(validate.invalid(invalidMetadata))
    let json: string
    try {
      json = StreamMetadata.stringify(metadata)
    } catch (cause) {
      return Effect.fail(validate.invalid(`Stream metadata is not serializable as JSON: ${String(cause)}`))
    }
    return Effect.asVoid(
      append(`$$${stream}`, new NewEvent({ type: "$metadata", data: json }), {
        ...options,
        currentVersion: options?.currentVersion ?? "any"
      })
    )
  }).pipe(transport.traceEffect("Streams.setStreamMetadata", { "db.collection.name": stream }))
