/**
 * The retry buffer of a persistent-subscription group: messages waiting to be delivered again,
 * before any new event. It is kept as a real node's `StreamBuffer.AddRetry` keeps it: in order of
 * position (event number, or `$all` position), replayed parked messages last.
 *
 * @since 0.1.0
 */
import { isReplayed, type Message } from "./Message.ts"

/**
 * The messages waiting for a retry, in delivery order.
 *
 * @since 0.1.0
 * @category models
 */
export class RetryBuffer {
  private readonly items: Array<Message> = []

  /** How many messages wait. */
  get length(): number {
    return this.items.length
  }

  /** The next message to deliver, left in place. */
  peek(): Message | undefined {
    return this.items[0]
  }

  /** Takes the next message out. */
  shift(): Message | undefined {
    return this.items.shift()
  }

  /** Replayed parked messages: after everything else that waits, in the order given. */
  addReplayed(messages: ReadonlyArray<Message>): void {
    for (const m of messages) this.items.push(m)
  }

  /**
   * Puts messages where a real node's `StreamBuffer.AddRetry` puts each: before the first message
   * of a higher position, else last; a replayed parked message (no position of its own: `seq` -1)
   * always last, and never a reason to stop (it is passed over when looking for a higher
   * position). Inserting that way keeps the positioned messages in order whatever order they come
   * in, so sorting `messages` and merging them in one pass gives what inserting them one by one
   * gives.
   */
  add(messages: Array<Message>): void {
    if (messages.length === 0) return
    // replayed ones after the others, by their number in the parked stream (a real node sorts a
    // leaving consumer's messages by original event number)
    messages.sort((a, b) =>
      isReplayed(a) || isReplayed(b)
        ? (isReplayed(a) ? 1 : 0) - (isReplayed(b) ? 1 : 0) || a.record.eventNumber - b.record.eventNumber
        : a.seq - b.seq
    )
    const current = this.items
    // the common case: nothing waits, or every new one goes after all that waits
    const first = messages[0]!
    if (isReplayed(first) || current.every((m) => isReplayed(m) || m.seq <= first.seq)) {
      for (const m of messages) current.push(m)
      return
    }
    const merged: Array<Message> = []
    let next = 0
    for (const m of current) {
      if (!isReplayed(m)) {
        while (next < messages.length && !isReplayed(messages[next]!) && messages[next]!.seq < m.seq) merged.push(messages[next++]!)
      }
      merged.push(m)
    }
    while (next < messages.length) merged.push(messages[next++]!)
    current.length = 0
    for (const m of merged) current.push(m)
  }
}
