/**
 * The persistent-subscription groups of one node (PROTOCOL.md §4): their configuration, kept as
 * `$PersistentConfig` events in `$persistentSubscriptionConfig` the way a real node writes it (the
 * whole configuration, `Version` "2", `Updated`, `UpdatedBy` and the `Entries`), and read back
 * from that stream when the node starts on a kept database or the subsystem restarts.
 *
 * A group runs as a {@link ConsumerGroup} from its creation, or from the node's start or the
 * subsystem's restart, until it is updated or deleted or the subsystem restarts (then it stops
 * and its consumers are dropped). A stopped group leaves nothing behind: no listener, no timer,
 * no message. The node has two timers for all its groups, as a real node's
 * `PersistentSubscriptionService` has: the one-second tick (`PersistentSubscriptionTimerTick`:
 * message timeouts, `checkpoint_after`) and the once-a-second statistics tracker.
 *
 * @since 0.1.0
 */
import { metastreamOf, type Store } from "../storage/Store.ts"
import { ConsumerGroup } from "./ConsumerGroup.ts"
import { type Group, type GroupFilter, groupStreams, type StartFrom, startFromText } from "./Group.ts"
import { MEASURE_EVERY_MS } from "./GroupStatistics.ts"

/**
 * The configuration stream and its event type.
 *
 * @since 0.1.0
 * @category constants
 */
export const CONFIG_STREAM = "$persistentSubscriptionConfig"

/**
 * The event type of the configuration events.
 *
 * @since 0.1.0
 * @category constants
 */
export const CONFIG_EVENT_TYPE = "$PersistentConfig"

/**
 * How often a real node's persistent-subscription service ticks (`PersistentSubscriptionService`
 * schedules `PersistentSubscriptionTimerTick` 1000 ms after each one): message timeouts and
 * `checkpoint_after` are checked then, and only then.
 *
 * @since 0.1.0
 * @category constants
 */
export const TICK_MS = 1000

/**
 * What the node holds for its persistent-subscription groups (for leak checks).
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupsHolding {
  /** Groups configured. */
  readonly groups: number
  /** Groups running. */
  readonly running: number
  /** Consumers connected, messages in flight and waiting for a retry, over all running groups. */
  readonly consumers: number
  readonly inFlight: number
  readonly retries: number
}

/**
 * Options of {@link PersistentGroups}.
 *
 * @since 0.1.0
 * @category models
 */
export interface PersistentGroupsOptions {
  /**
   * The node's clock (ms since the epoch) and whether the groups' timers run; default `Date.now`
   * and true. Tests that drive the tick themselves (`tick`) pass `timers: false` and their clock.
   */
  readonly now?: (() => number) | undefined
  readonly timers?: boolean | undefined
  /**
   * Default true: read the groups back and start them. A cluster member that is not the leader
   * passes false: the groups run on the leader only (`PersistentSubscriptionService` starts on
   * BecomeLeader), and a member that becomes leader opens again.
   */
  readonly load?: boolean | undefined
}

const key = (stream: string, group: string): string => `${stream}::${group}`

const toEntry = (g: Group): Record<string, unknown> => ({
  Stream: g.stream,
  Group: g.group,
  IndexName: null,
  Filter: g.filter === undefined ? null : { Context: g.filter.context, Type: g.filter.type, Data: g.filter.data },
  ResolveLinkTos: g.settings.resolveLinkTos,
  ExtraStatistics: g.settings.extraStatistics,
  MessageTimeout: g.settings.messageTimeoutMs,
  // the obsolete field: the event number of a stream group, long.MinValue for `$all`
  StartFrom: g.startFrom._tag === "Stream" ? Number(g.startFrom.eventNumber) : -9223372036854775808,
  StartPosition: startFromText(g.startFrom),
  LiveBufferSize: g.settings.liveBufferSize,
  HistoryBufferSize: g.settings.historyBufferSize,
  MaxRetryCount: g.settings.maxRetryCount,
  ReadBatchSize: g.settings.readBatchSize,
  PreferRoundRobin: g.settings.consumerStrategy === "RoundRobin",
  CheckPointAfter: g.settings.checkPointAfterMs,
  MinCheckPointCount: g.settings.minCheckPointCount,
  MaxCheckPointCount: g.settings.maxCheckPointCount,
  MaxSubscriberCount: g.settings.maxSubscriberCount,
  NamedConsumerStrategy: g.settings.consumerStrategy
})

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0)
const bool = (v: unknown): boolean => v === true
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)

const parseStart = (stream: string, entry: Record<string, unknown>): StartFrom | undefined => {
  const text = str(entry["StartPosition"])
  if (stream === "$all") {
    const m = text === undefined ? null : /^C:(-?\d+)\/P:(-?\d+)$/.exec(text)
    return m === null ? undefined : { _tag: "All", commit: BigInt(m[1]!), prepare: BigInt(m[2]!) }
  }
  if (text !== undefined && /^-?\d+$/.test(text)) return { _tag: "Stream", eventNumber: BigInt(text) }
  return typeof entry["StartFrom"] === "number" ? { _tag: "Stream", eventNumber: BigInt(entry["StartFrom"]) } : undefined
}

const parseFilter = (v: unknown): GroupFilter | undefined => {
  if (typeof v !== "object" || v === null) return undefined
  const o = v as Record<string, unknown>
  const data = Array.isArray(o["Data"]) ? o["Data"].filter((d): d is string => typeof d === "string") : []
  return {
    context: o["Context"] === "StreamId" ? "StreamId" : "EventType",
    type: o["Type"] === "Prefix" ? "Prefix" : "Regex",
    data
  }
}

const fromEntry = (entry: Record<string, unknown>): Group | undefined => {
  const stream = str(entry["Stream"])
  const group = str(entry["Group"])
  if (stream === undefined || group === undefined) return undefined
  const startFrom = parseStart(stream, entry)
  if (startFrom === undefined) return undefined
  const named = str(entry["NamedConsumerStrategy"])
  return {
    stream,
    group,
    startFrom,
    filter: parseFilter(entry["Filter"]),
    settings: {
      resolveLinkTos: bool(entry["ResolveLinkTos"]),
      extraStatistics: bool(entry["ExtraStatistics"]),
      messageTimeoutMs: num(entry["MessageTimeout"]),
      maxRetryCount: num(entry["MaxRetryCount"]),
      liveBufferSize: num(entry["LiveBufferSize"]),
      historyBufferSize: num(entry["HistoryBufferSize"]),
      readBatchSize: num(entry["ReadBatchSize"]),
      checkPointAfterMs: num(entry["CheckPointAfter"]),
      minCheckPointCount: num(entry["MinCheckPointCount"]),
      maxCheckPointCount: num(entry["MaxCheckPointCount"]),
      maxSubscriberCount: num(entry["MaxSubscriberCount"]),
      // version 1 configurations have no strategy name, only PreferRoundRobin
      consumerStrategy: named !== undefined && named !== ""
        ? named
        : bool(entry["PreferRoundRobin"]) ? "RoundRobin" : "DispatchToSingle"
    }
  }
}

/**
 * The groups of a node. All writes go through the store's single writer.
 *
 * @since 0.1.0
 * @category models
 */
export class PersistentGroups {
  private readonly store: Store
  private groups = new Map<string, Group>()
  private readonly running = new Map<string, ConsumerGroup>()
  private readonly now: () => number
  /** Measures every running group once a second, as a real node's metrics tracker does. */
  private readonly tracker: ReturnType<typeof setInterval> | undefined
  /** The one-second tick of every running group. */
  private readonly ticker: ReturnType<typeof setInterval> | undefined

  constructor(store: Store, options: PersistentGroupsOptions = {}) {
    this.store = store
    this.now = options.now ?? Date.now
    if (options.load !== false) this.load()
    if (options.timers !== false) {
      this.tracker = setInterval(() => {
        for (const group of this.running.values()) group.measure()
      }, MEASURE_EVERY_MS)
      this.tracker.unref?.()
      this.ticker = setInterval(() => this.tick(), TICK_MS)
      this.ticker.unref?.()
    }
  }

  /** The service's tick: every running group checks its time (`ConsumerGroup.tick`). */
  tick(now: number = this.now()): void {
    for (const group of Array.from(this.running.values())) group.tick(now)
  }

  /** What the groups hold now (for leak checks). */
  get holding(): GroupsHolding {
    let consumers = 0
    let inFlight = 0
    let retries = 0
    for (const group of this.running.values()) {
      const h = group.holding
      consumers += h.consumers
      inFlight += h.inFlight
      retries += h.retries
    }
    return { groups: this.groups.size, running: this.running.size, consumers, inFlight, retries }
  }

  /**
   * Reads the configuration back from the last `$PersistentConfig` event (startup, restart) and
   * starts every group, as a real node's `PersistentSubscriptionService.HandleLoadCompleted` does
   * (`TryCreateSubscriptionGroup` for each entry): a group from the end without a checkpoint
   * starts at the end as of now, and gets the events appended before its first consumer comes.
   */
  load(): void {
    for (const k of Array.from(this.running.keys())) this.stop(k)
    this.groups = new Map()
    const last = this.store.lastEvent(CONFIG_STREAM)
    if (last === undefined || this.store.isSoftDeleted(CONFIG_STREAM) || this.store.isTombstoned(CONFIG_STREAM)) return
    try {
      const config = JSON.parse(last.data.toString("utf8")) as Record<string, unknown>
      const entries = Array.isArray(config["Entries"]) ? config["Entries"] : []
      for (const raw of entries) {
        if (typeof raw !== "object" || raw === null) continue
        const group = fromEntry(raw as Record<string, unknown>)
        if (group !== undefined) this.groups.set(key(group.stream, group.group), group)
      }
    } catch {
      // not a configuration this node can read: start with none, as a real node does on bad data
    }
    for (const group of this.groups.values()) this.start(group.stream, group.group)
  }

  /** The group of that name on the stream (or on `$all`), if any. */
  get(stream: string, group: string): Group | undefined {
    return this.groups.get(key(stream, group))
  }

  /** Every group, in creation order. */
  all(): ReadonlyArray<Group> {
    return [...this.groups.values()]
  }

  /** The groups of one stream (or of `$all`). */
  ofStream(stream: string): ReadonlyArray<Group> {
    return this.all().filter((g) => g.stream === stream)
  }

  /**
   * Adds or replaces a group: starts it, then writes the configuration, in the order of a real
   * node's `PersistentSubscriptionService.CreatePersistentSubscription` (`TryCreateSubscriptionGroup`,
   * then `SaveConfiguration`). So a group from the end starts at the end as of now, not at its
   * first consumer's connection, and a `$all` group from the end gets its own `$PersistentConfig`
   * event live. When the configuration cannot be written the group is taken back (and an updated
   * one is back as it was, stopped) and the error thrown.
   */
  put(group: Group, user: string): void {
    const k = key(group.stream, group.group)
    const previous = this.groups.get(k)
    this.stop(k)
    this.groups.set(k, group)
    this.start(group.stream, group.group)
    try {
      this.save(user)
    } catch (error) {
      this.stop(k)
      if (previous === undefined) this.groups.delete(k)
      else this.groups.set(k, previous)
      throw error
    }
  }

  /** Removes a group, writes the configuration and soft-deletes its checkpoint and parked streams. */
  remove(stream: string, group: string, user: string): void {
    this.stop(key(stream, group))
    this.groups.delete(key(stream, group))
    this.save(user)
    const streams = groupStreams(stream, group)
    for (const name of [streams.checkpoint, streams.parked]) {
      if (this.store.lastEventNumber(name) >= 0 && !this.store.isSoftDeleted(name)) {
        this.store.softDelete(name, { _tag: "Any" })
      }
    }
  }

  /** The running group of that name (started now if it was not running), if the group exists. */
  start(stream: string, group: string): ConsumerGroup | undefined {
    const k = key(stream, group)
    const found = this.running.get(k)
    if (found !== undefined) return found
    const config = this.groups.get(k)
    if (config === undefined) return undefined
    const started = new ConsumerGroup(this.store, config, this.now)
    this.running.set(k, started)
    return started
  }

  /** The running group of that name, if it runs. */
  runningGroup(stream: string, group: string): ConsumerGroup | undefined {
    return this.running.get(key(stream, group))
  }

  /** Stops every running group (the node closes): consumers dropped, timers cleared. */
  close(): void {
    clearInterval(this.tracker)
    clearInterval(this.ticker)
    for (const k of Array.from(this.running.keys())) this.stop(k)
  }

  private stop(k: string): void {
    const found = this.running.get(k)
    if (found === undefined) return
    this.running.delete(k)
    found.close()
  }

  /**
   * Writes the whole configuration, as a real node's `SaveConfiguration` does through
   * `IODispatcher.ConfigureStreamAndWriteEvents`: the first time (the stream has no event), the
   * stream's metadata `$maxCount: 2` first.
   */
  private save(user: string): void {
    if (this.store.lastEventNumber(CONFIG_STREAM) < 0) {
      this.store.writeSystemEvent(metastreamOf(CONFIG_STREAM), "$metadata", { $maxCount: 2 })
    }
    this.store.writeSystemEvent(CONFIG_STREAM, CONFIG_EVENT_TYPE, {
      Version: "2",
      Updated: new Date().toISOString(),
      UpdatedBy: user,
      Entries: this.all().map(toEntry)
    })
  }
}
