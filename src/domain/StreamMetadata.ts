/**
 * Stream metadata: the JSON document stored as the last `$metadata` event of the metastream
 * `$$<stream>`. The server reads `$maxAge`, `$maxCount`, `$tb`, `$cacheControl`, `$tmp` and `$acl`;
 * any other key is kept for the application.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

const Roles = Schema.Union([Schema.String, Schema.Array(Schema.String)])

/**
 * Access control list of a stream: user names or groups allowed to read (`$r`), write (`$w`),
 * delete (`$d`), read metadata (`$mr`) and write metadata (`$mw`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const StreamAcl = Schema.Struct({
  $r: Schema.optionalKey(Roles),
  $w: Schema.optionalKey(Roles),
  $d: Schema.optionalKey(Roles),
  $mr: Schema.optionalKey(Roles),
  $mw: Schema.optionalKey(Roles)
})

/**
 * Type of {@link StreamAcl}.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamAcl = typeof StreamAcl.Type

/**
 * Schema of stream metadata: `$maxAge` and `$cacheControl` in seconds, `$maxCount` a positive
 * count, `$tb` (truncate before) a stream position, exact over the uint64 range; custom keys are
 * any JSON value.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StreamMetadata = Schema.StructWithRest(
  Schema.Struct({
    $maxAge: Schema.optionalKey(Schema.Number.check(Schema.isInt(), Schema.isGreaterThan(0))),
    $maxCount: Schema.optionalKey(Schema.Number.check(Schema.isInt(), Schema.isGreaterThan(0))),
    $tb: Schema.optionalKey(Schema.BigInt.check(Schema.isGreaterThanOrEqualToBigInt(0n))),
    $cacheControl: Schema.optionalKey(Schema.Number.check(Schema.isInt(), Schema.isGreaterThan(0))),
    $tmp: Schema.optionalKey(Schema.Boolean),
    $acl: Schema.optionalKey(StreamAcl)
  }),
  [Schema.Record(Schema.String, Schema.Unknown)]
)

/**
 * Type of {@link StreamMetadata}.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamMetadata = typeof StreamMetadata.Type

const reviver = function(this: unknown, _key: string, value: unknown, context?: { source?: string }) {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined && /^-?\d+$/.test(context.source)) {
    return BigInt(context.source)
  }
  return value
}

/**
 * Parses metadata JSON exactly: integers beyond 2^53 (such as `$tb` after a delete,
 * 9223372036854775807) become bigints, and `$tb` is always a bigint. Returns `undefined` for bytes
 * that are not a JSON object, as the server ignores such metadata.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (bytes: Uint8Array): StreamMetadata | undefined => {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder().decode(bytes), reviver as never)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
  const record = value as Record<string, unknown>
  if (typeof record.$tb === "number") record.$tb = BigInt(record.$tb)
  const decoded = Schema.decodeUnknownResult(StreamMetadata)(record)
  return Result.isSuccess(decoded) ? decoded.success : (record as StreamMetadata)
}

/**
 * Checks metadata against {@link StreamMetadata}: returns a description of the first problem
 * (e.g. a `$maxCount` that is not a positive integer), or `undefined` when it is valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (metadata: unknown): string | undefined => {
  const result = Schema.decodeUnknownResult(StreamMetadata)(metadata)
  return Result.isSuccess(result) ? undefined : `Invalid stream metadata: ${result.failure.message}`
}

/**
 * Serializes metadata to JSON, writing bigints as exact JSON integers.
 *
 * @since 0.1.0
 * @category encoding
 */
export const stringify = (metadata: StreamMetadata): string =>
  JSON.stringify(metadata, (_key, value) => (typeof value === "bigint" ? `__bigint__${value}` : value))
    .replace(/"__bigint__(-?\d+)"/g, "$1")
