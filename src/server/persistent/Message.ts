/**
 * One message of a persistent-subscription group (PROTOCOL.md §4): an event of the group's stream
 * (or of `$all`), or a parked message being replayed, with the times it was retried.
 *
 * @since 0.1.0
 */
import type { EventRecord } from "../storage/Store.ts"

/**
 * One message of a group.
 *
 * @since 0.1.0
 * @category models
 */
export interface Message {
  /** The event in the subscribed stream (or in `$all`): a link when the stream holds links. */
  readonly record: EventRecord
  /** The event a resolved link points to, when links are resolved. */
  readonly resolved: EventRecord | undefined
  /** Its place for checkpoints (event number, or `$all` position); -1 for a replayed parked message. */
  readonly seq: number
  retryCount: number
}

/**
 * Is this a parked message being replayed (it has no place of its own in the group's stream)?
 *
 * @since 0.1.0
 * @category predicates
 */
export const isReplayed = (message: Message): boolean => message.seq < 0
