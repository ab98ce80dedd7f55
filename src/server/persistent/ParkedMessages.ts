/**
 * The parked messages of a persistent-subscription group (PROTOCOL.md §4,
 * `PersistentSubscriptionMessageParker.cs` of a real node), kept in its parked stream
 * `$persistentsubscription-<stream>::<group>-parked`:
 *
 * - parking appends a `$>` link (not JSON, data `<eventNumber>@<stream>`) whose metadata holds
 *   `Added`, `Reason` and `SubscriptionEventNumber`;
 * - replaying hands back the messages parked before `stop_at` (an event number of the parked
 *   stream, exclusive) or all of them, each the parked link resolved (its ack id is the link's),
 *   and moves the parked stream's `$tb` past them;
 * - truncating moves the `$tb` the same way without handing anything back;
 * - the `$tb` is written in the parked stream's metadata with an all-`$admins` ACL, as a real node
 *   writes it.
 *
 * @since 0.1.0
 */
import { newUuid } from "../codec/Uuid.ts"
import { type EventRecord, metastreamOf, type Store } from "../storage/Store.ts"
import { isReplayed, type Message } from "./Message.ts"

/**
 * The parked messages not replayed yet: the parked stream's events from its `$tb` on (the one
 * place this module reads the store).
 */
const readParked = (
  store: Store,
  parkedStream: string
): { readonly first: number; readonly last: number; readonly at: (n: number) => EventRecord | undefined } | undefined => {
  const view = store.view(parkedStream)
  return view._tag === "Ok" ? { first: view.first, last: view.last, at: (n) => (n >= 0 && n <= view.last ? view.event(n) : undefined) } : undefined
}

/**
 * How many messages wait in a parked stream (GetInfo's `parked_message_count`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const parkedMessageCount = (store: Store, parkedStream: string): number => {
  const parked = readParked(store, parkedStream)
  return parked === undefined ? 0 : Math.max(0, parked.last - parked.first + 1)
}

/**
 * The parked stream of one group.
 *
 * @since 0.1.0
 * @category models
 */
export class ParkedMessages {
  private readonly store: Store
  /** The parked stream's name. */
  readonly stream: string

  constructor(store: Store, stream: string) {
    this.store = store
    this.stream = stream
  }

  /**
   * Parks a message; false when the log refused the write (the message then stays unprocessed,
   * and is read again after a restart). A replayed message is parked as the event it stands for:
   * its own `$>` in the parked stream is already behind the `$tb`.
   */
  park(message: Message, reason: string): boolean {
    const record = isReplayed(message) && message.resolved !== undefined ? message.resolved : message.record
    try {
      this.store.append(this.stream, { _tag: "Any" }, [{
        eventId: newUuid(),
        eventType: "$>",
        isJson: false,
        data: Buffer.from(`${record.eventNumber}@${record.stream}`, "utf8"),
        customMetadata: Buffer.from(
          JSON.stringify({ Added: new Date().toISOString(), Reason: reason, SubscriptionEventNumber: record.eventNumber }),
          "utf8"
        )
      }])
      return true
    } catch {
      return false
    }
  }

  /**
   * Takes the parked messages out for replay: all of them, or those before event number `stopAt`
   * of the parked stream. Each is the parked link resolved (links whose event is gone are
   * passed over); the `$tb` moves past them. Nothing parked: nothing written.
   */
  replay(stopAt: number | undefined): Array<Message> {
    const parked = readParked(this.store, this.stream)
    if (parked === undefined) return []
    const end = stopAt === undefined ? parked.last : Math.min(parked.last, stopAt - 1)
    if (end < parked.first) return []
    const out: Array<Message> = []
    for (let n = parked.first; n <= end; n++) {
      const link = parked.at(n)
      if (link === undefined) continue
      const target = this.store.resolveLink(link)
      if (target === undefined) continue
      out.push({ record: link, resolved: target, seq: -1, retryCount: 0 })
    }
    this.writeTruncateBefore(end + 1)
    return out
  }

  /**
   * Drops parked messages without delivering them: moves the `$tb` to `stopAt` (the parked
   * stream's event number before which messages go) or past its last event, as a real node's
   * `TruncateParkedMessages` does. The `$tb` only ever moves forward: a `stopAt` at or before it
   * changes nothing (and writes nothing), nor does a group with nothing parked. The caller
   * refuses a negative `stopAt`.
   */
  truncate(stopAt: number | undefined): void {
    const parked = readParked(this.store, this.stream)
    if (parked === undefined) return
    const end = parked.last + 1
    const truncateBefore = stopAt === undefined ? end : Math.min(stopAt, end)
    if (truncateBefore <= parked.first) return
    this.writeTruncateBefore(truncateBefore)
  }

  /** The parked stream's metadata as a real node writes it: `$tb` and an all-`$admins` ACL. */
  private writeTruncateBefore(truncateBefore: number): void {
    try {
      this.store.append(metastreamOf(this.stream), { _tag: "Any" }, [{
        eventId: newUuid(),
        eventType: "$metadata",
        isJson: true,
        data: Buffer.from(JSON.stringify({
          $tb: truncateBefore,
          $acl: { $r: "$admins", $w: "$admins", $d: "$admins", $mr: "$admins", $mw: "$admins" }
        }), "utf8"),
        customMetadata: Buffer.alloc(0)
      }])
    } catch {
      // the log failed: the parked messages stay
    }
  }
}
