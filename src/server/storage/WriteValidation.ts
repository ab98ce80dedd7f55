/**
 * What the log can hold, checked for every event of a write before anything is staged: a write
 * that fails here leaves no trace (no stream entry, no position, no queued record).
 *
 * @since 0.1.0
 */
import type { ProposedEvent } from "./Records.ts"

/**
 * Largest stream name and event type, in UTF-8 bytes (16-bit lengths in RecordCodec.ts).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_NAME_BYTES = 0xffff

/**
 * Largest event id, in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_ID_BYTES = 0xff

/**
 * Largest data or metadata of one event, in bytes (32-bit lengths).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PAYLOAD_BYTES = 0xffffffff

/**
 * A write refused before anything was staged.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteRefused extends Error {
  readonly _tag = "WriteRefused"
}

/**
 * Throws {@link WriteRefused} when a stream name or an event does not fit the log.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateWrite = (stream: string, events: ReadonlyArray<ProposedEvent>): void => {
  if (Buffer.byteLength(stream, "utf8") > MAX_NAME_BYTES) {
    throw new WriteRefused(`stream name longer than ${MAX_NAME_BYTES} bytes`)
  }
  for (const event of events) {
    if (Buffer.byteLength(event.eventType, "utf8") > MAX_NAME_BYTES) {
      throw new WriteRefused(`event ${event.eventId}: type longer than ${MAX_NAME_BYTES} bytes`)
    }
    if (Buffer.byteLength(event.eventId, "latin1") > MAX_ID_BYTES) throw new WriteRefused("event id too long")
    if (event.data.length > MAX_PAYLOAD_BYTES || event.customMetadata.length > MAX_PAYLOAD_BYTES) {
      throw new WriteRefused(`event ${event.eventId}: data or metadata too large`)
    }
  }
}
