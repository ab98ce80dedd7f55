/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The connection was closed: the scope of the layer that made it has ended. Reads and
 * subscriptions running at that moment fail with it, and every later call fails with it at once
 * (nothing reconnects a closed connection). Not retryable.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionClosed extends Schema.TaggedError<ConnectionClosed>("effect-esdb/ConnectionClosed")("ConnectionClosed", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason || "The connection is closed"
  }
}
