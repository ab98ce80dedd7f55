/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The state a checked stream was found in: its revision, or `"no_stream"`, `"deleted"` (soft
 * deleted) or `"tombstoned"`.
 *
 * @since 0.1.0
 * @category models
 */
export const ActualStreamState = Schema.Union([Schema.Literals(["no_stream", "deleted", "tombstoned"]), Schema.BigInt])

/**
 * The state a consistency check expected: a revision, `"no_stream"`, `"exists"`, `"deleted"`,
 * `"tombstoned"`, or `"any"` (a stream only written, without a check of its own).
 *
 * @since 0.1.0
 * @category models
 */
export const CheckedStreamState = Schema.Union([
  Schema.Literals(["any", "no_stream", "exists", "deleted", "tombstoned"]),
  Schema.BigInt
])

/**
 * One failing check of an `appendRecords`: its index (the checks first, then the streams only
 * written), the stream, what was expected and what was found.
 *
 * @since 0.1.0
 * @category models
 */
export const StreamStateViolation = Schema.Struct({
  checkIndex: Schema.Number,
  stream: Schema.String,
  expected: CheckedStreamState,
  actual: ActualStreamState
})

/**
 * `Streams.appendRecords` was refused: the consistency checks listed in `violations` (every one
 * that failed) did not hold, and nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConsistencyViolation extends Schema.TaggedError<ConsistencyViolation>("effect-esdb/ConsistencyViolation")(
  "ConsistencyViolation",
  { violations: Schema.Array(StreamStateViolation) }
) {
  override get message(): string {
    const each = this.violations.map((v) =>
      `stream '${v.stream}' expected ${String(v.expected)}, found ${String(v.actual)} (check ${v.checkIndex})`
    )
    return `Append refused: consistency checks failed: ${each.join("; ")}`
  }
}
