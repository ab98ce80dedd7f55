/**
 * A running persistent-subscription group (PROTOCOL.md §4): its consumers, the messages in flight
 * and their timeouts, retries, parking, replay of parked messages and checkpoints.
 *
 * - Events are read from the store on demand, only while some consumer has room, so nothing is
 *   buffered beyond what is in flight (each consumer's in-flight limit is its `buffer_size`, and
 *   a consumer whose call's output is full gets nothing more until it drains).
 * - A message is acked or nacked by its `OriginalEvent.EventId` (the link's id when a link was
 *   resolved). Retries (nack retry/unknown, a message timeout) deliver it again with
 *   `retry_count + 1`, or park it once `retry_count >= max_retry_count`; a consumer leaving puts its
 *   messages in flight back with `retry_count + 1` and never parks them. The retry buffer is kept
 *   in order of position (replayed parked messages last), as a real node's is.
 * - Parked messages are `$>` links in `$persistentsubscription-<stream>::<group>-parked`; replaying
 *   delivers them again and moves that stream's `$tb` past them; truncating moves the `$tb`
 *   without delivering them.
 * - The checkpoint (the last position before which every message was processed) is written to
 *   `$persistentsubscription-<stream>::<group>-checkpoint` once `max_checkpoint_count` messages were
 *   processed, or every `checkpoint_after` when at least `min_checkpoint_count` were; a group that
 *   starts again (subsystem restart, node restart with `--db`) resumes after it.
 *
 * @since 0.1.0
 */
import { newUuid } from "../codec/Uuid.ts"
import type { LogCursor } from "../storage/LogCursor.ts"
import { type EventRecord, metastreamOf, type Store } from "../storage/Store.ts"
import { compilePattern, PatternError, type PatternMatcher } from "../UserPattern.ts"
import { type ConsumerStrategy, makeStrategy } from "./ConsumerStrategies.ts"
import { ProcessingTimings, ratePerSecond, type TimingMeasurement } from "./GroupStatistics.ts"
import type { Group } from "./PersistentGroups.ts"

/**
 * The largest in-flight limit a consumer gets, whatever `buffer_size` it asks for.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_CONSUMER_BUFFER = 10_000

/**
 * One message of the group.
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
  hasRoom(): boolean {
    return !this.paused && this.inFlight < this.capacity
  }
}

/**
 * A measurement of a group's delivery rate (GroupStatistics.ts).
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupMeasurement {
  readonly averagePerSecond: number
  readonly countSinceLastMeasurement: number
  readonly connections: ReadonlyArray<{
    readonly consumer: Consumer
    readonly averageItemsPerSecond: number
    readonly countSinceLastMeasurement: number
    readonly observedMeasurements: ReadonlyArray<TimingMeasurement>
  }>
}

interface InFlight {
  readonly message: Message
  readonly consumer: Consumer
  readonly due: number
}

/**
 * The stream (parked, checkpoint) names of a group.
 *
 * @since 0.1.0
 * @category accessors
 */
export const groupStreams = (stream: string, group: string) => ({
  parked: `$persistentsubscription-${stream}::${group}-parked`,
  checkpoint: `$persistentsubscription-${stream}::${group}-checkpoint`
})

/**
 * Nack actions as numbered on the wire.
 *
 * @since 0.1.0
 * @category models
 */
export type NackAction = "unknown" | "park" | "retry" | "skip" | "stop"

/** Each filter's patterns, compiled once (linear-time matching; a pattern that cannot be matches nothing). */
const compiledFilters = new WeakMap<NonNullable<Group["filter"]>, ReadonlyArray<PatternMatcher>>()

const matches = (group: Group, record: EventRecord): boolean => {
  const f = group.filter
  if (f === undefined) return true
  const subject = f.context === "StreamId" ? record.stream : record.eventType
  if (f.type === "Prefix") return f.data.some((p) => subject.startsWith(p))
  let tests = compiledFilters.get(f)
  if (tests === undefined) {
    tests = f.data.map(compilePattern).map((t) => (t instanceof PatternError ? () => false : t))
    compiledFilters.set(f, tests)
  }
  for (const test of tests) if (test(subject)) return true
  return false
}

/**
 * A running group.
 *
 * @since 0.1.0
 * @category models
 */
export class ConsumerGroup {
  readonly group: Group
  readonly isAll: boolean
  readonly consumers: Array<Consumer> = []
  private readonly store: Store
  private readonly strategy: ConsumerStrategy
  private readonly streams: { readonly parked: string; readonly checkpoint: string }
  private readonly inFlight = new Map<string, InFlight>()
  private readonly retries: Array<Message> = []
  /** Next event number (stream) or log index (`$all`) to read. */
  /** Next event number of the stream (stream groups). */
  private cursor: number
  /** The `$all` cursor (`$all` groups). */
  private allCursor: LogCursor | undefined
  /** Seqs read and not yet processed, in read order, and those processed since. */
  private readonly readOrder: Array<number> = []
  private readOrderHead = 0
  private readonly done = new Set<number>()
  /** The last seq before which everything was processed (the checkpoint to write). */
  private safe: number
  private lastCheckpoint: number
  private processedSinceCheckpoint = 0
  totalItems = 0
  parkedCount = 0
  /** When the last measurement was taken (`performance.now()`), and `totalItems` then. */
  private lastMeasuredAt = performance.now()
  private lastMeasuredItems = 0
  private pumping = false
  private again = false
  private closed = false
  private replaying = false
  private readonly unlisten: () => void
  private tick: ReturnType<typeof setInterval> | undefined
  private readonly checkpointTimer: ReturnType<typeof setInterval> | undefined

  constructor(store: Store, group: Group) {
    this.store = store
    this.group = group
    this.isAll = group.stream === "$all"
    this.strategy = makeStrategy(group.settings.consumerStrategy)
    this.streams = groupStreams(group.stream, group.group)
    const checkpoint = this.readCheckpoint()
    this.lastCheckpoint = checkpoint ?? -1
    if (this.isAll) {
      const start = group.startFrom._tag === "All" ? group.startFrom : { commit: 0n, prepare: 0n }
      const from = checkpoint !== undefined
        ? store.log.indexAtOrAfter(checkpoint + 1)
        : start.commit === -1n
        ? store.log.length
        : store.log.indexAtOrAfter(Number(start.commit))
      this.cursor = 0
      this.allCursor = store.log.cursor(from)
      this.safe = checkpoint ?? (from > 0 ? store.log.positionAt(from - 1) : -1)
      this.unlisten = store.onAppendAll(() => this.pump())
    } else {
      const start = group.startFrom._tag === "Stream" ? group.startFrom.eventNumber : 0n
      this.cursor = checkpoint !== undefined
        ? checkpoint + 1
        : start === -1n
        ? store.lastEventNumber(group.stream) + 1
        : Number(start)
      this.safe = this.cursor - 1
      this.unlisten = store.onAppendStream(group.stream, () => this.pump())
    }
    const every = group.settings.checkPointAfterMs
    if (every > 0) {
      this.checkpointTimer = setInterval(() => {
        if (this.processedSinceCheckpoint >= Math.max(1, group.settings.minCheckPointCount)) this.checkpoint()
      }, Math.max(10, every))
      this.checkpointTimer.unref?.()
    }
  }

  /** The position of the last checkpoint written before this group started, if any. */
  private readCheckpoint(): number | undefined {
    const view = this.store.view(this.streams.checkpoint)
    if (view._tag !== "Ok") return undefined
    const last = view.event(view.last)
    try {
      const text = JSON.parse(last.data.toString("utf8")) as unknown
      if (typeof text !== "string") return undefined
      if (this.isAll) {
        const m = /^C:(\d+)\/P:\d+$/.exec(text)
        return m === null ? undefined : Number(m[1])
      }
      return /^\d+$/.test(text) ? Number(text) : undefined
    } catch {
      return undefined
    }
  }

  /** GetInfo's `last_checkpointed_event_position`. */
  get lastCheckpointText(): string {
    if (this.lastCheckpoint < 0) return ""
    return this.isAll ? `C:${this.lastCheckpoint}/P:${this.lastCheckpoint}` : String(this.lastCheckpoint)
  }

  get inFlightCount(): number {
    return this.inFlight.size
  }

  get retryCount(): number {
    return this.retries.length
  }

  get isReplaying(): boolean {
    return this.replaying
  }

  /**
   * Measures the delivery rate since the previous measurement and starts the next window, as a
   * real node's `GetStatistics` does (every GetInfo, List, and the node's once-a-second tracker).
   */
  measure(now: number = performance.now()): GroupMeasurement {
    const windowMs = now - this.lastMeasuredAt
    const count = this.totalItems - this.lastMeasuredItems
    this.lastMeasuredAt = now
    this.lastMeasuredItems = this.totalItems
    const connections = this.consumers.map((consumer) => {
      const since = consumer.totalItems - consumer.lastTotalItems
      consumer.lastTotalItems = consumer.totalItems
      return {
        consumer,
        averageItemsPerSecond: ratePerSecond(since, windowMs),
        countSinceLastMeasurement: since,
        observedMeasurements: consumer.timings?.measurements() ?? []
      }
    })
    return { averagePerSecond: ratePerSecond(count, windowMs), countSinceLastMeasurement: count, connections }
  }

  /** Connects a consumer (the caller checked maxSubscriberCount) and delivers what it can. */
  add(consumer: Consumer): void {
    if (this.group.settings.extraStatistics) consumer.timings = new ProcessingTimings()
    this.consumers.push(consumer)
    this.pump()
  }

  /**
   * A consumer left (its call cancelled or its connection lost): its messages in flight go back
   * to the retry buffer with `retry_count + 1`, in event order, whatever their retry count. A real
   * node does the same (`RemoveClientByCorrelationId`, which its gRPC `Read` reaches through
   * `UnsubscribeFromStream`, calls `RetryMessage` without `ActionTakenForRetriedMessage`): a
   * message is only parked for its retry count when it is retried by a nack or a timeout.
   */
  remove(consumer: Consumer): void {
    const i = this.consumers.indexOf(consumer)
    if (i < 0) return
    this.consumers.splice(i, 1)
    const lost: Array<Message> = []
    for (const [id, f] of Array.from(this.inFlight)) {
      if (f.consumer !== consumer) continue
      this.inFlight.delete(id)
      f.message.retryCount++
      lost.push(f.message)
    }
    this.addRetries(lost)
    this.pump()
  }

  /** Acks: the messages are processed. Unknown ids are ignored. */
  ack(ids: ReadonlyArray<string>): void {
    for (const id of ids) {
      const f = this.take(id)
      if (f !== undefined) this.processed(f.message)
    }
    this.pump()
  }

  /**
   * Nacks with an action. `stop` is what a real node does with it: nothing is stopped
   * (`StopSubscription` is empty there) and the message is no longer outstanding, as with `skip`.
   */
  nack(ids: ReadonlyArray<string>, action: NackAction, reason: string): void {
    for (const id of ids) {
      const f = this.take(id)
      if (f === undefined) continue
      switch (action) {
        case "park":
          this.park(f.message, `Client explicitly NAK'ed message.\n${reason}`)
          break
        case "skip":
        case "stop":
          this.processed(f.message)
          break
        default:
          this.retry(f.message)
      }
    }
    this.pump()
  }

  private take(id: string): InFlight | undefined {
    const f = this.inFlight.get(id)
    if (f === undefined) return undefined
    this.inFlight.delete(id)
    f.consumer.inFlight--
    f.consumer.timings?.end(id, performance.now())
    return f
  }

  /** A nack (retry, unknown) or a timeout: retried with `retry_count + 1`, or parked past the maximum. */
  private retry(message: Message): void {
    if (message.retryCount >= this.group.settings.maxRetryCount) {
      this.park(message, `Reached retry count of ${this.group.settings.maxRetryCount}`)
      return
    }
    message.retryCount++
    this.addRetries([message])
  }

  /**
   * Puts messages in the retry buffer where a real node's `StreamBuffer.AddRetry` puts each: before
   * the first message of a higher position (event number, or `$all` position), else last; a
   * replayed parked message (no position of its own here: `seq` -1) always last, and never a
   * reason to stop (it is passed over when looking for a higher position). Inserting that way keeps
   * the positioned messages in order whatever order they come in, so sorting `messages` and
   * merging them in one pass gives what inserting them one by one gives.
   */
  private addRetries(messages: Array<Message>): void {
    if (messages.length === 0) return
    // replayed ones after the others, by their number in the parked stream (a real node sorts a
    // leaving consumer's messages by original event number)
    messages.sort((a, b) =>
      a.seq < 0 || b.seq < 0
        ? (a.seq < 0 ? 1 : 0) - (b.seq < 0 ? 1 : 0) || a.record.eventNumber - b.record.eventNumber
        : a.seq - b.seq
    )
    const current = this.retries
    // the common case: nothing waits, or every new one goes after all that waits
    const first = messages[0]!
    if (first.seq < 0 || current.every((m) => m.seq < 0 || m.seq <= first.seq)) {
      for (const m of messages) current.push(m)
      return
    }
    const merged: Array<Message> = []
    let next = 0
    for (const m of current) {
      if (m.seq >= 0) {
        while (next < messages.length && messages[next]!.seq >= 0 && messages[next]!.seq < m.seq) merged.push(messages[next++]!)
      }
      merged.push(m)
    }
    while (next < messages.length) merged.push(messages[next++]!)
    current.length = 0
    for (const m of merged) current.push(m)
  }

  private park(message: Message, reason: string): void {
    // a replayed message is parked as the event it stands for (its `$>` in the parked stream is
    // already behind the parked stream's `$tb`)
    const record = message.seq < 0 && message.resolved !== undefined ? message.resolved : message.record
    try {
      this.store.append(this.streams.parked, { _tag: "Any" }, [{
        eventId: newUuid(),
        eventType: "$>",
        isJson: false,
        data: Buffer.from(`${record.eventNumber}@${record.stream}`, "utf8"),
        customMetadata: Buffer.from(
          JSON.stringify({ Added: new Date().toISOString(), Reason: reason, SubscriptionEventNumber: record.eventNumber }),
          "utf8"
        )
      }])
      this.parkedCount++
    } catch {
      // the log failed: the message stays unprocessed (it is read again after a restart)
      return
    }
    this.processed(message)
  }

  private processed(message: Message): void {
    if (message.seq < 0) return
    this.done.add(message.seq)
    while (this.readOrderHead < this.readOrder.length && this.done.has(this.readOrder[this.readOrderHead]!)) {
      const seq = this.readOrder[this.readOrderHead++]!
      this.done.delete(seq)
      this.safe = seq
    }
    if (this.readOrderHead > 1024 && this.readOrderHead * 2 > this.readOrder.length) {
      this.readOrder.splice(0, this.readOrderHead)
      this.readOrderHead = 0
    }
    this.processedSinceCheckpoint++
    const max = this.group.settings.maxCheckPointCount
    if (max > 0 && this.processedSinceCheckpoint >= max) this.checkpoint()
  }

  /** Writes the checkpoint when it moved. */
  checkpoint(): void {
    this.processedSinceCheckpoint = 0
    if (this.safe <= this.lastCheckpoint || this.safe < 0) return
    const text = this.isAll ? `C:${this.safe}/P:${this.safe}` : String(this.safe)
    try {
      // appended (not written as a bare system event) so a stream soft-deleted with an earlier
      // group of that name comes back
      if (this.store.view(this.streams.checkpoint)._tag !== "Ok") {
        this.appendJson(metastreamOf(this.streams.checkpoint), "$metadata", {
          $maxCount: 2,
          $acl: { $r: "$admins", $w: "$admins", $d: "$admins", $mr: "$all", $mw: "$admins" }
        })
      }
      this.appendJson(this.streams.checkpoint, "$SubscriptionCheckpoint", text)
      this.lastCheckpoint = this.safe
    } catch {
      // the log failed: the checkpoint stays where it was
    }
  }

  private appendJson(stream: string, type: string, data: unknown): void {
    const outcome = this.store.append(stream, { _tag: "Any" }, [{
      eventId: newUuid(),
      eventType: type,
      isJson: true,
      data: Buffer.from(JSON.stringify(data), "utf8"),
      customMetadata: Buffer.alloc(0)
    }])
    if (outcome._tag !== "Success") throw new Error(`cannot write to ${stream}`)
  }

  /**
   * Delivers the parked messages again and moves the parked stream's `$tb` past them: all of
   * them, or (as a real node reads `stop_at`) those before event number `stopAt` of the parked
   * stream. Like a real node, a replayed message is the parked link resolved: its event is the
   * parked one, its link (and so its ack id) the `$>` of the parked stream.
   */
  replayParked(stopAt: number | undefined): void {
    const view = this.store.view(this.streams.parked)
    if (view._tag !== "Ok") return
    const end = stopAt === undefined ? view.last : Math.min(view.last, stopAt - 1)
    if (end < view.first) return
    this.replaying = true
    for (let n = view.first; n <= end; n++) {
      const link = view.event(n)
      const target = this.store.resolveLink(link)
      if (target === undefined) continue
      // replayed parked messages go after everything else waiting for a retry
      this.retries.push({ record: link, resolved: target, seq: -1, retryCount: 0 })
    }
    this.writeParkedTruncateBefore(end + 1)
    this.replaying = false
    this.pump()
  }

  /**
   * Drops parked messages without delivering them: moves the parked stream's `$tb` to `stopAt`
   * (the parked stream's event number before which messages go) or past its last event, as a real
   * node's `TruncateParkedMessages` does. The `$tb` only ever moves forward: a `stopAt` at or
   * before it changes nothing (and writes nothing), nor does a group with nothing parked. The
   * caller refuses a negative `stopAt`.
   */
  truncateParked(stopAt: number | undefined): void {
    const view = this.store.view(this.streams.parked)
    if (view._tag !== "Ok") return
    const end = view.last + 1
    const truncateBefore = stopAt === undefined ? end : Math.min(stopAt, end)
    if (truncateBefore <= view.first) return
    this.writeParkedTruncateBefore(truncateBefore)
  }

  /** The parked stream's metadata as a real node writes it: `$tb` and an all-`$admins` ACL. */
  private writeParkedTruncateBefore(truncateBefore: number): void {
    try {
      this.appendJson(metastreamOf(this.streams.parked), "$metadata", {
        $tb: truncateBefore,
        $acl: { $r: "$admins", $w: "$admins", $d: "$admins", $mr: "$admins", $mw: "$admins" }
      })
    } catch {
      // the log failed: the parked messages stay
    }
  }

  private resolve(record: EventRecord): EventRecord | undefined {
    if (!this.group.settings.resolveLinkTos || record.eventType !== "$>") return undefined
    return this.store.resolveLink(record)
  }

  /** The next event to deliver from the stream (or `$all`), moving the cursor, or undefined. */
  private readNext(): Message | undefined {
    const store = this.store
    if (this.isAll) {
      for (let record = this.allCursor!.next(); record !== undefined; record = this.allCursor!.next()) {
        if (record.isTombstone || !matches(this.group, record)) continue
        return { record, resolved: this.resolve(record), seq: record.position, retryCount: 0 }
      }
      return undefined
    }
    const view = store.view(this.group.stream)
    if (view._tag !== "Ok") return undefined
    if (this.cursor < view.first) this.cursor = view.first
    if (this.cursor > view.last) return undefined
    const record = view.event(this.cursor++)
    return { record, resolved: this.resolve(record), seq: record.eventNumber, retryCount: 0 }
  }

  /** Hands messages to consumers with room: retries first, then new events. */
  pump(): void {
    if (this.closed) return
    if (this.pumping) {
      this.again = true
      return
    }
    this.pumping = true
    try {
      do {
        this.again = false
        this.deliver()
      } while (this.again && !this.closed)
    } finally {
      this.pumping = false
    }
    this.armTimeouts()
  }

  private deliver(): void {
    while (this.consumers.length > 0) {
      const fromRetry = this.retries.length > 0
      const message = fromRetry ? this.retries[0]! : this.peekNew()
      if (message === undefined) return
      const consumer = this.strategy.pick(this.consumers, message.resolved ?? message.record)
      if (consumer === undefined) return
      if (fromRetry) this.retries.shift()
      else this.takeNew()
      const id = message.record.eventId
      // an id already in flight (the same event delivered twice by a replay): the newer wins
      const previous = this.inFlight.get(id)
      if (previous !== undefined) previous.consumer.inFlight--
      const timeout = this.group.settings.messageTimeoutMs
      this.inFlight.set(id, { message, consumer, due: timeout > 0 ? Date.now() + timeout : Infinity })
      consumer.inFlight++
      consumer.totalItems++
      this.totalItems++
      consumer.timings?.start(id, performance.now())
      if (!consumer.sink.send(message)) consumer.paused = true
    }
  }

  private peeked: Message | undefined

  private peekNew(): Message | undefined {
    if (this.peeked === undefined) {
      this.peeked = this.readNext()
      if (this.peeked !== undefined) this.readOrder.push(this.peeked.seq)
    }
    return this.peeked
  }

  private takeNew(): void {
    this.peeked = undefined
  }

  private armTimeouts(): void {
    if (this.tick !== undefined || this.closed || this.inFlight.size === 0) return
    const timeout = this.group.settings.messageTimeoutMs
    if (timeout <= 0) return
    const every = Math.max(5, Math.min(1000, Math.floor(timeout / 4)))
    this.tick = setInterval(() => this.onTick(), every)
    this.tick.unref?.()
  }

  private onTick(): void {
    const now = Date.now()
    let expired = false
    for (const [id, f] of Array.from(this.inFlight)) {
      if (f.due > now) continue
      this.take(id)
      this.retry(f.message)
      expired = true
    }
    if (this.inFlight.size === 0 && this.tick !== undefined) {
      clearInterval(this.tick)
      this.tick = undefined
    }
    if (expired) this.pump()
  }

  /**
   * Stops the group: timers and listener go, consumers are dropped. Like a real node it writes no
   * checkpoint here: a group that starts again resumes from the last one its settings wrote.
   */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.unlisten()
    if (this.tick !== undefined) clearInterval(this.tick)
    if (this.checkpointTimer !== undefined) clearInterval(this.checkpointTimer)
    const consumers = this.consumers.splice(0)
    for (const c of consumers) c.sink.drop()
  }
}
