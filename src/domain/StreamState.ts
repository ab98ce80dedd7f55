/**
 * The state a stream is expected to be in when it is written to: the optimistic concurrency
 * check of appends, deletes and tombstones.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Any state: the write never fails on the stream's version.
 *
 * @since 0.1.0
 * @category constants
 */
export const Any = "any" as const

/**
 * The stream must not exist (or must have been soft-deleted).
 *
 * @since 0.1.0
 * @category constants
 */
export const NoStream = "no_stream" as const

/**
 * The stream must exist.
 *
 * @since 0.1.0
 * @category constants
 */
export const Exists = "exists" as const

/**
 * Either one of the three sentinels or the exact revision (stream position) of the stream's
 * last event, as a bigint over the whole uint64 range.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamState = typeof Any | typeof NoStream | typeof Exists | bigint

/**
 * Schema of {@link StreamState}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StreamState: Schema.Codec<StreamState> = Schema.Union([
  Schema.Literals([Any, NoStream, Exists]),
  Schema.BigInt
])

/**
 * Renders a stream state the way error messages print it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (state: StreamState): string =>
  typeof state === "bigint" ? state.toString() : state.toUpperCase()
