/**
 * The persistent-subscription groups of one node (PROTOCOL.md §4): their configuration, kept as
 * `$PersistentConfig` events in `$persistentSubscriptionConfig` the way a real node writes it (the
 * whole configuration, `Version` "2", `Updated`, `UpdatedBy` and the `Entries`), and read back
 * from that stream when the node starts on a kept database or the subsystem restarts.
 *
 * The groups consumers are connected to run as {@link ConsumerGroup}s (started on the first
 * `Read`, stopped, with their consumers dropped, when the group is updated or deleted or the
 * subsystem restarts).
 *
 * @since 0.1.0
 */
import type { Store } from "../storage/Store.ts"
import { ConsumerGroup } from "./ConsumerGroup.ts"
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
 * The consumer strategies a real node registers.
 *
 * @since 0.1.0
 * @category constants
 */
export const CONSUMER_STRATEGIES: ReadonlyArray<string> = ["DispatchToSingle", "RoundRobin", "Pinned", "PinnedByCorrelation"]

/**
 * Where a group starts: an event number of its stream (-1 = from the end), or a `$all` position
 * ((-1, -1) = from the end).
 *
 * @since 0.1.0
 * @category models
 */
export type StartFrom =
  | { readonly _tag: "Stream"; readonly eventNumber: bigint }
  | { readonly _tag: "All"; readonly commit: bigint; readonly prepare: bigint }

/**
 * A `$all` group's filter as stored in its entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupFilter {
  readonly context: "StreamId" | "EventType"
  readonly type: "Regex" | "Prefix"
  readonly data: ReadonlyArray<string>
}

/**
 * The settings of a group, as a real node takes them: literally, no defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupSettings {
  readonly resolveLinkTos: boolean
  readonly extraStatistics: boolean
  readonly messageTimeoutMs: number
  readonly maxRetryCount: number
  readonly liveBufferSize: number
  readonly historyBufferSize: number
  readonly readBatchSize: number
  readonly checkPointAfterMs: number
  readonly minCheckPointCount: number
  readonly maxCheckPointCount: number
  readonly maxSubscriberCount: number
  readonly consumerStrategy: string
}

/**
 * One group.
 *
 * @since 0.1.0
 * @category models
 */
export interface Group {
  /** The stream, or `$all`. */
  readonly stream: string
  readonly group: string
  readonly startFrom: StartFrom
  readonly filter: GroupFilter | undefined
  readonly settings: GroupSettings
}

/**
 * The text a real node shows for a start position (`StartPosition`, GetInfo's `start_from`).
 *
 * @since 0.1.0
 * @category formatting
 */
export const startFromText = (start: StartFrom): string =>
  start._tag === "Stream" ? String(start.eventNumber) : `C:${start.commit}/P:${start.prepare}`

/**
 * Why a real node refuses a start position, or undefined.
 *
 * @since 0.1.0
 * @category validation
 */
export const startFromProblem = (start: StartFrom, lastIndexedPosition: number): string | undefined => {
  if (start._tag === "Stream") {
    return start.eventNumber < -1n ? "Invalid Start From position: event number must be greater than or equal to -1." : undefined
  }
  if (start.prepare > start.commit) {
    return "Invalid Start From position: prepare position must be less than or equal to the commit position."
  }
  if (start.commit > BigInt(lastIndexedPosition)) {
    return "Invalid Start From position: commit position must be less than or equal to the last commit position in the transaction file."
  }
  if ((start.prepare <= -1n || start.commit <= -1n) && !(start.prepare === -1n && start.commit === -1n)) {
    return "Invalid Start From position: prepare and commit positions must be greater than or equal to 0 or both equal to -1."
  }
  return undefined
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
  /** Measures every running group once a second, as a real node's metrics tracker does. */
  private readonly tracker: ReturnType<typeof setInterval>

  constructor(store: Store) {
    this.store = store
    this.load()
    this.tracker = setInterval(() => {
      for (const group of this.running.values()) group.measure()
    }, MEASURE_EVERY_MS)
    this.tracker.unref?.()
  }

  /** Reads the configuration back from the last `$PersistentConfig` event (startup, restart). */
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
   * Adds or replaces a group, writes the configuration and starts the group, as a real node does:
   * a group from the end starts at the end as of now, not at its first consumer's connection.
   */
  put(group: Group, user: string): void {
    this.stop(key(group.stream, group.group))
    this.groups.set(key(group.stream, group.group), group)
    this.save(user)
    this.start(group.stream, group.group)
  }

  /** Removes a group, writes the configuration and soft-deletes its checkpoint and parked streams. */
  remove(stream: string, group: string, user: string): void {
    this.stop(key(stream, group))
    this.groups.delete(key(stream, group))
    this.save(user)
    const prefix = `$persistentsubscription-${stream}::${group}`
    for (const name of [`${prefix}-checkpoint`, `${prefix}-parked`]) {
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
    const started = new ConsumerGroup(this.store, config)
    this.running.set(k, started)
    return started
  }

  /** The running group of that name, if it runs. */
  runningGroup(stream: string, group: string): ConsumerGroup | undefined {
    return this.running.get(key(stream, group))
  }

  /** Stops every running group (the node closes): checkpoints written, consumers dropped. */
  close(): void {
    clearInterval(this.tracker)
    for (const k of Array.from(this.running.keys())) this.stop(k)
  }

  private stop(k: string): void {
    const found = this.running.get(k)
    if (found === undefined) return
    this.running.delete(k)
    found.close()
  }

  private save(user: string): void {
    this.store.writeSystemEvent(CONFIG_STREAM, CONFIG_EVENT_TYPE, {
      Version: "2",
      Updated: new Date().toISOString(),
      UpdatedBy: user,
      Entries: this.all().map(toEntry)
    })
  }
}
