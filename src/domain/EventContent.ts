/**
 * What a new event and the event recorded from it have in common, and the equality built on it.
 *
 * @since 0.1.0
 */
import * as Hash from "effect/Hash"

/**
 * The fields an application chose for an event: its id, type, data, metadata and content type.
 * A {@link NewEvent} is made of them, and the {@link RecordedEvent} the node records from it
 * carries them unchanged (plus where it was recorded).
 *
 * @since 0.1.0
 * @category models
 */
export interface EventContent {
  readonly id: string
  readonly type: string
  readonly data: Uint8Array
  readonly metadata: Uint8Array
  readonly contentType: string
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false
  }
  return true
}

/**
 * Whether two events carry the same content: equal ids, types, content types, and byte-for-byte
 * equal data and metadata. Where an event was recorded (stream, positions, time, link) is not
 * compared, so a recorded event equals the new event it was appended from.
 *
 * @since 0.1.0
 * @category equivalence
 */
export const sameContent = (self: EventContent, that: EventContent): boolean =>
  self.id === that.id &&
  self.type === that.type &&
  self.contentType === that.contentType &&
  sameBytes(self.data, that.data) &&
  sameBytes(self.metadata, that.metadata)

/**
 * The hash that goes with {@link sameContent} (of the id and the type: equal content, equal hash).
 *
 * @since 0.1.0
 * @category equivalence
 */
export const hashContent = (self: EventContent): number => Hash.combine(Hash.string(self.type))(Hash.string(self.id))

/**
 * Whether a value is a new or a recorded event (by its `_tag`), i.e. something
 * {@link sameContent} applies to.
 *
 * @since 0.1.0
 * @category guards
 */
export const isEventContent = (value: unknown): value is EventContent =>
  typeof value === "object" && value !== null &&
  ((value as { readonly _tag?: unknown })._tag === "NewEvent" || (value as { readonly _tag?: unknown })._tag === "RecordedEvent")
