/**
 * The error of a recorded event that does not decode into the event union.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A recorded event that does not decode into the event union: its type is unknown (`reason:
 * "UnknownType"`), or its data or metadata are not JSON or not what the Schema accepts. It
 * names the stream, the stream and commit positions, the event id and type, and the Schema's
 * issue.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventDecodeError extends Schema.TaggedError<EventDecodeError>("effect-esdb/eventsourcing/EventDecodeError")(
  "EventDecodeError",
  {
    stream: Schema.String,
    streamPosition: Schema.BigInt,
    commitPosition: Schema.optional(Schema.BigInt),
    eventId: Schema.String,
    type: Schema.String,
    reason: Schema.Literals(["UnknownType", "InvalidData", "InvalidMetadata"]),
    issue: Schema.String
  }
) {
  override get message(): string {
    return `Event ${this.streamPosition}@${this.stream} (${this.type}, ${this.eventId}) does not decode (${this.reason}): ${this.issue}`
  }
}
