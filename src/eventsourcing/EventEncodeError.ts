/**
 * The error of an event that does not encode.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * An event (or its metadata) that its Schema refuses to encode: the event was built around the
 * Schema's checks (a class constructed with `disableChecks`, or a value cast to the type).
 *
 * @since 0.1.0
 * @category errors
 */
export class EventEncodeError extends Schema.TaggedError<EventEncodeError>("effect-esdb/eventsourcing/EventEncodeError")(
  "EventEncodeError",
  { type: Schema.String, issue: Schema.String }
) {
  override get message(): string {
    return `Event ${this.type} does not encode: ${this.issue}`
  }
}
