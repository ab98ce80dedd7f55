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
    name: "$by_category",
    query: "first\r\n-",
    handlerType: "native:KurrentDB.Projections.Core.Standard.CategorizeEventsByStreamPath",
    links: (e) => {
      const category = categoryOf(e.streamId)
      return category === undefined ? [] : [link(`$ce-${category}`, e.eventNumber, e.streamId)]
    }
  },
  {
    name: "$by_event_type",
    query: "",
    handlerType: "native:KurrentDB.Projections.Core.Standard.IndexEventsByEventType",
    links: (e) => e.eventType.startsWith("$") ? [] : [link(`$et-${e.eventType}`, e.eventNumber, e.streamId)]
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
    if (event.streamId.startsWith("$")) return { _tag: "Skipped" }
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
