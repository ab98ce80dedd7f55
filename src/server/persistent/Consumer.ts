/**
 * A consumer connected to a persistent-subscription group (one `Read` call): its in-flight limit
 * (`buffer_size`), what it has in flight, its counters for GetInfo, and the sink the group sends
 * its messages through.
 *
 * @since 0.1.0
 */
import { newUuid } from "../codec/Uuid.ts"
import type { ProcessingTimings } from "./GroupStatistics.ts"
import type { Message } from "./Message.ts"

/**
 * The largest in-flight limit a consumer gets, whatever `buffer_size` it asks for.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_CONSUMER_BUFFER = 10_000

/**
 * A connected consumer, as the group drives it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerSink {
  /** Sends one message; false when the call can take no more until it drains. */
  readonly send: (message: Message) => boolean
  /** Ends the call with the group's reason (dropped). */
  readonly drop: () => void
}

/**
 * A connected consumer.
 *
 * @since 0.1.0
 * @category models
 */
export class Consumer {
  readonly id = newUuid()
  inFlight = 0
  totalItems = 0
  /** `totalItems` at the group's last measurement. */
  lastTotalItems = 0
  /** Push-to-ack times, kept when the group has `extraStatistics` (set as it joins the group). */
  timings: ProcessingTimings | undefined
  /** The call's output is full: nothing more goes to this consumer until it drains. */
  paused = false
  readonly connectedAt = Date.now()
  readonly capacity: number
  readonly from: string
  readonly username: string
  readonly connectionName: string
  readonly sink: ConsumerSink
  constructor(capacity: number, from: string, username: string, connectionName: string, sink: ConsumerSink) {
    this.capacity = Math.max(1, Math.min(MAX_CONSUMER_BUFFER, capacity))
    this.from = from
    this.username = username
    this.connectionName = connectionName
    this.sink = sink
  }
  /** True while the consumer can take one more message (its call drains and it has a free slot). */
  hasRoom(): boolean {
    return !this.paused && this.inFlight < this.capacity
  }
}
