/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as StreamState from "../domain/StreamState.ts"

/**
 * The stream was not in the state the write expected (optimistic concurrency): `expected` is
 * what the caller asked for, `actual` the stream's current revision (or `"no_stream"`).
 *
 * @since 0.1.0
 * @category errors
 */
export class WrongCurrentVersion extends Schema.TaggedError<WrongCurrentVersion>("effect-esdb/WrongCurrentVersion")(
  "WrongCurrentVersion",
  {
    stream: Schema.String,
    expected: StreamState.StreamState,
    actual: Schema.Union([Schema.Literal("no_stream"), Schema.BigInt])
  }
) {
  override get message(): string {
    return this.actual === "no_stream"
      ? `Stream '${this.stream}' does not exist (expected ${StreamState.format(this.expected)})`
      : `Stream position of last event is ${this.actual} not ${StreamState.format(this.expected)} in stream '${this.stream}'`
  }
}
