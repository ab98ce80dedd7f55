/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A recorded event's data is not what the caller asked for (`RecordedEvent.decodeJson`): not
 * JSON, or JSON that the caller's Schema does not decode. `reason` is the parser's or the
 * Schema's message.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventDataInvalid extends Schema.TaggedError<EventDataInvalid>("effect-esdb/EventDataInvalid")(
  "EventDataInvalid",
  { stream: Schema.String, streamPosition: Schema.BigInt, id: Schema.String, type: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `The data of event ${this.streamPosition}@${this.stream} (${this.type}, ${this.id}) does not decode: ${this.reason}`
  }
}
