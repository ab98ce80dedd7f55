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
 * - Parked messages are `$>` links in `$persistentsubscription-<stream>::<group>-parked`
 *   (ParkedMessages.ts); replaying delivers them again, after every other retry (RetryBuffer.ts).
 * - Time is checked on the node's one-second tick (`tick`, driven by PersistentGroups.ts), as a
 *   real node's `PersistentSubscriptionService` does (`PersistentSubscriptionTimerTick`, then
 *   `PersistentSubscription.NotifyClockTick`): messages whose timeout passed are retried (or
 *   parked) there, not when their timeout passes, and `checkpoint_after` is checked there too.
 * - The checkpoint (the last position before which every message was processed) is written to
 *   `$persistentsubscription-<stream>::<group>-checkpoint` once `max_checkpoint_count` messages were
 *   processed, or on a tick at least `checkpoint_after` after the previous checkpoint when at least
 *   `min_checkpoint_count` were; a group that starts again (subsystem restart, node restart with
 *   `--db`) resumes after it.
 *
 * @since 0.1.0
 */
import { newUuid } from "../codec/Uuid.ts"
import { compilePattern, PatternError, type PatternMatcher } from "../UserPattern.ts"
import type { LogCursor } from "../storage/LogCursor.ts"
import { type EventRecord, metastreamOf, type Store } from "../storage/Store.ts"
import type { Consumer } from "./Consumer.ts"
import { type ConsumerStrategy, makeStrategy } from "./ConsumerStrategies.ts"
import { type Group, groupStreams } from "./Group.ts"
import { ProcessingTimings, ratePerSecond, type TimingMeasurement } from "./GroupStatistics.ts"
import { isReplayed, type Message } from "./Message.ts"
import { ParkedMessages } from "./ParkedMessages.ts"
import { RetryBuffer } from "./RetryBuffer.ts"

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
  private readonly retries = new RetryBuffer()
  private readonly parked: ParkedMessages
  /** The node's clock (ms since the epoch): message deadlines and `checkpoint_after`. */
  private readonly now: () => number
  /** Next event number of the stream to read (stream groups). */
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
  /** When the last checkpoint was written (never: -Infinity, so the first tick may write one). */
  private lastCheckpointAt = -Infinity
  totalItems = 0
  /** When the last measurement was taken (`performance.now()`), and `totalItems` then. */
  private lastMeasuredAt = performance.now()
  private lastMeasuredItems = 0
  private pumping = false
  private again = false
  private closed = false
  private replaying = false
  private readonly unlisten: () => void

  /**
   * Starts a group: where it reads from is decided now (its checkpoint, else its start; "from the
   * end" is the end as of now). `now` is the node's clock, read for message deadlines.
   */
  constructor(store: Store, group: Group, now: () => number = Date.now) {
    this.store = store
    this.group = group
    this.now = now
    this.isAll = group.stream === "$all"
    this.strategy = makeStrategy(group.settings.consumerStrategy)
    this.streams = groupStreams(group.stream, group.group)
    this.parked = new ParkedMessages(store, this.streams.parked)
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
  }

  /** The position of the last checkpoint written before this group started, if any. */
  private readCheckpoint(): number | undefined {
    const view = this.store.view(this.streams.checkpoint)
    if (view._tag !== "Ok") return undefined
    const last = view.event(view.last)
    if (last === undefined) return undefined
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

  /** Consumers connected, messages in flight and waiting for a retry (for leak checks). */
  get holding(): { readonly consumers: number; readonly inFlight: number; readonly retries: number } {
    return { consumers: this.consumers.length, inFlight: this.inFlight.size, retries: this.retries.length }
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
    this.retries.add(lost)
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
    this.retries.add([message])
  }

  /** Parks a message; it is processed once its link is written. */
  private park(message: Message, reason: string): void {
    if (this.parked.park(message, reason)) this.processed(message)
  }

  private processed(message: Message): void {
    if (isReplayed(message)) return
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
  private checkpoint(): void {
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
      this.lastCheckpointAt = this.now()
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
   * Delivers the parked messages again (all, or those before event number `stopAt` of the parked
   * stream), after everything else waiting for a retry (ParkedMessages.ts).
   */
  replayParked(stopAt: number | undefined): void {
    this.replaying = true
    this.retries.addReplayed(this.parked.replay(stopAt))
    this.replaying = false
    this.pump()
  }

  /** Drops parked messages without delivering them (ParkedMessages.ts). */
  truncateParked(stopAt: number | undefined): void {
    this.parked.truncate(stopAt)
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
    // dropped by a scavenge since the view was taken: the next one
    if (record === undefined) return this.cursor <= view.last ? this.readNext() : undefined
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
  }

  private deliver(): void {
    while (this.consumers.length > 0) {
      const fromRetry = this.retries.length > 0
      const message = fromRetry ? this.retries.peek()! : this.peekNew()
      if (message === undefined) return
      const consumer = this.strategy.pick(this.consumers, message.resolved ?? message.record)
      if (consumer === undefined) return
      if (fromRetry) this.retries.shift()
      else this.takeNew()
      const id = message.record.eventId
      // an id already in flight (the same event delivered twice by a replay): the newer wins
      const previous = this.inFlight.get(id)
      if (previous !== undefined) previous.consumer.inFlight--
      // a timeout of 0 is taken literally, as a real node takes it: due at once (the next tick)
      this.inFlight.set(id, { message, consumer, due: this.now() + Math.max(0, this.group.settings.messageTimeoutMs) })
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

  /**
   * The node's one-second tick, as a real node's `PersistentSubscription.NotifyClockTick`: the
   * messages whose deadline passed are retried (or parked past `max_retry_count`), a checkpoint is
   * written when `checkpoint_after` passed since the last one and at least `min_checkpoint_count`
   * messages were processed (`checkpoint_after` 0: never), and messages go out.
   */
  tick(now: number): void {
    if (this.closed) return
    for (const [id, f] of Array.from(this.inFlight)) {
      if (f.due > now) continue
      this.take(id)
      this.retry(f.message)
    }
    const every = this.group.settings.checkPointAfterMs
    if (
      every > 0 && now - this.lastCheckpointAt >= every &&
      this.processedSinceCheckpoint >= Math.max(1, this.group.settings.minCheckPointCount)
    ) this.checkpoint()
    this.pump()
  }

  /**
   * Stops the group: its listener goes, consumers are dropped, and it holds no timer. Like a real node it writes no
   * checkpoint here: a group that starts again resumes from the last one its settings wrote.
   */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.unlisten()
    const consumers = this.consumers.splice(0)
    for (const c of consumers) c.sink.drop()
  }
}
