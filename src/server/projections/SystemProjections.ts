/**
 * The system projections of a node: `$by_category`, `$by_event_type`, `$stream_by_category`,
 * `$streams` and `$by_correlation_id`. A real node runs them as native code, not JS; here each is a
 * {@link Processor} beside the JS engine, run by the {@link ProjectionManager} like any other
 * continuous projection (asynchronously over `$all`, checkpointed, enabled or disabled).
 *
 * What each writes (PROTOCOL.md §5), for every event of a stream whose name does not start with
 * `$` (tombstones aside):
 * - `$by_category` (body `first\r\n-`): a link (`$>`, `N@stream`) in `$ce-<category>`, the
 *   category being the part of the stream name before the first `-`;
 * - `$by_event_type`: a link in `$et-<type>` (types starting with `$` excepted);
 * - `$stream_by_category`: for the first event of a stream, a `$@` event (data: the stream name)
 *   in `$category-<category>`;
 * - `$streams`: for the first event of a stream, a link to it in `$streams`;
 * - `$by_correlation_id`: a link in `$bc-<id>` for an event whose JSON metadata has a string
 *   `$correlationId`.
 * Every link's metadata carries `$o` (the original stream) besides the manager's checkpoint tag.
 *
 * @since 0.1.0
 */
import type { EmittedEvent, ProcessOutcome, ProjectionInput } from "./ProjectionEngine.ts"

/**
 * What the manager needs of a running query: the JS {@link ProjectionEngine} or a native one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Processor {
  readonly definition: {
    readonly allStreams: boolean
    readonly options: { readonly resultStreamName: string | null; readonly biState?: boolean }
  }
  readonly process: (input: ProjectionInput) => ProcessOutcome
  readonly getState: (partition?: string) => string | undefined
  readonly getResult: (partition?: string) => string | null | undefined
  readonly partitions: () => ReadonlyArray<string>
  readonly setState: (partition: string, state: string) => void
  /** `$deleted` for a deleted stream: whether it applies, and running it (JS queries only). */
  readonly deletionApplies?: (stream: string) => boolean
  readonly processDeleted?: (partition: string, isSoftDeleted: boolean) => ProcessOutcome
  /** The shared state of a `biState` query, and restoring it (JS queries only). */
  readonly getSharedState?: () => string | null
  readonly setSharedState?: (state: string) => void
  readonly dispose: () => void
}

/**
 * One system projection: its name, the body and handler type its definition records, and how it
 * maps an event to the links it writes.
 *
 * @since 0.1.0
 * @category models
 */
export interface SystemProjection {
  readonly name: string
  readonly query: string
  readonly handlerType: string
  readonly links: (input: ProjectionInput["event"]) => ReadonlyArray<EmittedEvent>
  /**
   * Also sees the metastreams (`$$x`) of non-system streams and tombstones, as a real node's
   * `$by_category` and `$by_event_type` do (they index stream deletions).
   */
  readonly seesDeletions?: boolean
}

/**
 * The category of a stream name (the part before the first `-`), if it has one.
 *
 * @since 0.1.0
 * @category accessors
 */
export const categoryOf = (stream: string): string | undefined => {
  const dash = stream.indexOf("-")
  return dash < 0 ? undefined : stream.slice(0, dash)
}

const link = (stream: string, eventNumber: number, target: string): EmittedEvent => ({
  kind: "linkTo",
  streamId: stream,
  eventType: "$>",
  data: `${eventNumber}@${target}`,
  isJson: false,
  metadata: JSON.stringify({ "$o": target })
})

/** A tombstone's event number as the store keeps it, and as a real node writes it (long.MaxValue). */
const TOMBSTONE_NUMBER = Number.MAX_SAFE_INTEGER
const numberText = (n: number): string => n === TOMBSTONE_NUMBER ? "9223372036854775807" : String(n)

/** `$tb` of a soft-deleted stream (long.MaxValue, as JSON.parse reads it). */
const DELETED_TB = 9223372036854775807

/**
 * StreamDeletedHelper.IsStreamDeletedEvent: the position stream (a metastream `$$x` read as `x`)
 * and whether the event deletes it (a tombstone, or `$metadata` in `$$x` with `$tb` = long.MaxValue).
 */
const positionOf = (e: ProjectionInput["event"]): { readonly stream: string; readonly deleted: boolean } => {
  if (e.streamId.startsWith("$$")) {
    const stream = e.streamId.slice(2)
    if (e.eventType !== "$metadata") return { stream, deleted: false }
    try {
      const m: unknown = JSON.parse(Buffer.from(e.data).toString("utf8"))
      return { stream, deleted: typeof m === "object" && m !== null && (m as Record<string, unknown>)["$tb"] === DELETED_TB }
    } catch {
      return { stream, deleted: false }
    }
  }
  return { stream: e.streamId, deleted: e.eventType === "$streamDeleted" && e.eventNumber === TOMBSTONE_NUMBER }
}

/** StreamCategoryExtractorByFirstSeparator: none for a `$` stream or without a `-` after the first character. */
const userCategoryOf = (stream: string): string | undefined => {
  if (stream.startsWith("$")) return undefined
  const dash = stream.indexOf("-")
  return dash > 0 ? stream.slice(0, dash) : undefined
}

const correlationIdOf = (metadata: Uint8Array): string | undefined => {
  if (metadata.length === 0) return undefined
  try {
    const parsed: unknown = JSON.parse(Buffer.from(metadata).toString("utf8"))
    if (typeof parsed !== "object" || parsed === null) return undefined
    const id = (parsed as Record<string, unknown>)["$correlationId"]
    return typeof id === "string" && id !== "" ? id : undefined
  } catch {
    return undefined
  }
}

/**
 * The five system projections, in the order a real node registers them.
 *
 * @since 0.1.0
 * @category constants
 */
export const SYSTEM_PROJECTIONS: ReadonlyArray<SystemProjection> = [
  {
    name: "$streams",
    query: "",
    handlerType: "native:KurrentDB.Projections.Core.Standard.IndexStreams",
    links: (e) => e.eventNumber === 0 ? [link("$streams", 0, e.streamId)] : []
  },
  {
    name: "$stream_by_category",
    query: "first\r\n-",
    handlerType: "native:KurrentDB.Projections.Core.Standard.CategorizeStreamByPath",
    links: (e) => {
      const category = categoryOf(e.streamId)
      if (e.eventNumber !== 0 || category === undefined) return []
      return [{
        kind: "linkStreamTo",
        streamId: `$category-${category}`,
        eventType: "$@",
        data: e.streamId,
        isJson: false,
        metadata: null
      }]
    }
  },
  {
    // CategorizeEventsByStreamPath: a link (`$o` = the position stream) for every event of a
    // categorised stream, the target of a link event; a stream deletion too (`$deleted: -1`)
    name: "$by_category",
    query: "first\r\n-",
    handlerType: "native:KurrentDB.Projections.Core.Standard.CategorizeEventsByStreamPath",
    seesDeletions: true,
    links: (e) => {
      const position = positionOf(e)
      const origin = position.deleted ? position.stream : e.streamId
      const category = userCategoryOf(origin)
      if (category === undefined) return []
      const target = e.eventType === "$>" ? Buffer.from(e.data).toString("utf8") : `${numberText(e.eventNumber)}@${e.streamId}`
      return [{
        kind: "linkTo",
        streamId: `$ce-${category}`,
        eventType: "$>",
        data: target,
        isJson: false,
        metadata: JSON.stringify(position.deleted ? { "$o": origin, "$deleted": -1 } : { "$o": origin })
      }]
    }
  },
  {
    // IndexEventsByEventType: `N@<position stream>` in `$et-<type>` (no extra metadata), links
    // passed over; a deletion goes to `$et-$deleted` (`$deleted: -1`). A metastream's other
    // `$metadata` events land in `$et-$metadata` pointing at `N@x`, not `$$x` — the real node's
    // own quirk (KurrentDB issue #1772), kept.
    name: "$by_event_type",
    query: "",
    handlerType: "native:KurrentDB.Projections.Core.Standard.IndexEventsByEventType",
    seesDeletions: true,
    links: (e) => {
      if (e.eventType === "$>") return []
      const position = positionOf(e)
      return [{
        kind: "linkTo",
        streamId: `$et-${position.deleted ? "$deleted" : e.eventType}`,
        eventType: "$>",
        data: `${numberText(e.eventNumber)}@${position.stream}`,
        isJson: false,
        metadata: position.deleted ? JSON.stringify({ "$deleted": -1 }) : null
      }]
    }
  },
  {
    name: "$by_correlation_id",
    query: "{\"correlationIdProperty\":\"$correlationId\"}",
    handlerType: "native:KurrentDB.Projections.Core.Standard.ByCorrelationId",
    links: (e) => {
      const id = correlationIdOf(e.metadata)
      return id === undefined ? [] : [link(`$bc-${id}`, e.eventNumber, e.streamId)]
    }
  }
]

/**
 * A {@link Processor} running a system projection: it keeps no state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const systemProcessor = (projection: SystemProjection): Processor => ({
  definition: { allStreams: true, options: { resultStreamName: null } },
  process: ({ event }) => {
    // the filter of the system projections: non-system streams, and (for the two that index
    // deletions) the metastreams of non-system streams and tombstones
    const s = event.streamId
    const metastream = s.startsWith("$$") && !s.startsWith("$$$")
    if (s.startsWith("$") && !(metastream && projection.seesDeletions === true)) return { _tag: "Skipped" }
    if (event.eventNumber === TOMBSTONE_NUMBER && projection.seesDeletions !== true) return { _tag: "Skipped" }
    const emitted = projection.links(event)
    if (emitted.length === 0) return { _tag: "Skipped" }
    return { _tag: "Processed", partition: "", state: "", sharedState: null, emitted, logs: [] }
  },
  getState: () => undefined,
  getResult: () => undefined,
  partitions: () => [],
  setState: () => {},
  dispose: () => {}
})
