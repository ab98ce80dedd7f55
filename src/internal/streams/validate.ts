/**
 * Argument checks shared by the Streams operations: each returns an InvalidArgument that says
 * what was wrong, or `undefined`. They run before any request is built, so bad input never
 * reaches the node and loses nothing.
 *
 * Read and subscription options are checked against Schemas (once per Stream). The checks on
 * every append (stream name, expected state, events) are plain code: they sit on the hot path of
 * single-event appends.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import type { NewEvent } from "../../domain/NewEvent.ts"
import type { StreamState } from "../../domain/StreamState.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"

const MAX_COUNT = BigInt(Number.MAX_SAFE_INTEGER)
const UINT64_MAX = 18446744073709551615n
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** @internal */
export const invalid = (reason: string) => new InvalidArgument({ reason })

/** @internal */
export const streamName = (stream: string): InvalidArgument | undefined =>
  typeof stream !== "string" || stream.length === 0 ? invalid("The stream name must be a non-empty string") : undefined

/** A position in a stream or in `$all`: a uint64. */
const Position = Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: UINT64_MAX }))
const isPosition = Schema.is(Position)

/** A read's limit: a non-negative safe integer, or a non-negative bigint. */
const Limit = Schema.Union([
  Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER)),
  Schema.BigInt.check(Schema.isGreaterThanOrEqualToBigInt(0n))
])
const isLimit = Schema.is(Limit)

const AtLeastOne = Schema.Number.check(Schema.isGreaterThanOrEqualTo(1))
const isAtLeastOne = Schema.is(AtLeastOne)

/** The count a read asks for: the limit, or as many as a count can say. @internal */
export const limit = (value: number | bigint | undefined): bigint | InvalidArgument =>
  value === undefined
    ? MAX_COUNT
    : isLimit(value)
    ? BigInt(value)
    : invalid(`limit must be a non-negative integer, got ${String(value)}`)

const isU64 = (value: bigint) => value >= 0n && value <= UINT64_MAX

/** @internal */
export const position = (name: string, value: bigint | undefined): InvalidArgument | undefined =>
  value === undefined || isPosition(value)
    ? undefined
    : invalid(`${name} must be a bigint in 0..2^64-1, got ${String(value)}`)

/** @internal */
export const streamState = (state: StreamState): InvalidArgument | undefined =>
  typeof state === "bigint"
    ? isU64(state) ? undefined : invalid(`currentVersion must be a stream position in 0..2^64-1, got ${state}`)
    : state === "any" || state === "no_stream" || state === "exists"
    ? undefined
    : invalid(`currentVersion must be "any", "no_stream", "exists" or a bigint stream position, got ${String(state)}`)

/** @internal */
export const events = (list: ReadonlyArray<NewEvent>): InvalidArgument | undefined => {
  if (list.length === 0) return invalid("append needs at least one event")
  for (let i = 0; i < list.length; i++) {
    const event = list[i]
    if (event === null || typeof event !== "object") return invalid(`events[${i}] is not a NewEvent`)
    if (typeof event.type !== "string" || event.type.length === 0) return invalid(`events[${i}] has an empty type`)
    if (typeof event.id !== "string" || !UUID_RE.test(event.id)) {
      return invalid(`events[${i}] has an invalid id '${String(event.id)}': a UUID is required`)
    }
    if (!(event.data instanceof Uint8Array)) return invalid(`events[${i}].data must be bytes`)
    if (!(event.metadata instanceof Uint8Array)) return invalid(`events[${i}].metadata must be bytes`)
    if (typeof event.contentType !== "string" || event.contentType.length === 0) {
      return invalid(`events[${i}] has an empty contentType`)
    }
  }
  return undefined
}

/** An option that must be at least 1 when given. @internal */
export const atLeastOne = (name: string, value: number | undefined): InvalidArgument | undefined =>
  value !== undefined && !isAtLeastOne(value) ? invalid(`${name} must be at least 1`) : undefined
