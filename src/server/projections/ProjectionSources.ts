/**
 * What a compiled query's sources mean on the embedded node: whether a real node would refuse to
 * run them (`ReaderStrategy.Create`), which partition an event folds into under `foreachStream`,
 * a stream's category, and whether a stream's deletion reaches the `$deleted` handler.
 *
 * @since 0.1.0
 */
import type { ProjectionDefinition, ProjectionEvent } from "./ProjectionModel.ts"

const utf8 = new TextDecoder("utf-8")

/**
 * Why a real node refuses to run a compiled query's sources, or undefined: the checks of
 * KurrentDB's `ReaderStrategy.Create`, in its order, with its texts. They throw when the
 * projection starts, so the create (or update) succeeds and the projection is Faulted with the
 * message. `reorderEvents` itself changes nothing here: a real node's
 * EventReorderingReaderSubscription holds the events of several streams for `processingLag` ms
 * and hands them on in commit-position order, and the embedded node reads one log that is in
 * commit-position order already.
 *
 * @since 0.1.0
 * @category validation
 */
export const readerStrategyError = (d: ProjectionDefinition): string | undefined => {
  if (d.byStreams && d.streams.length > 0) return "foreachStream projections are not supported on stream based sources"
  if (d.options.reorderEvents) {
    if (d.allStreams) return "Event reordering cannot be used with fromAll()"
    if (d.streams.length <= 1) return "Event reordering is only available in fromStreams([]) projections"
    if (d.options.processingLag < 50) return "Event reordering requires processing lag at least of 50ms"
  }
  if (d.handlesDeletedNotifications && !d.byStreams) return "Deleted stream notifications are only supported with foreachStream()"
  return undefined
}

/**
 * ByStreamStatePartitionSelector: a resolved link's `$o` (the original stream its metadata
 * names), else the event's stream, a metastream `$$x` read as `x`.
 */
export const byStreamPartition = (event: ProjectionEvent, link: ProjectionEvent | undefined): string => {
  if (link !== undefined && link.metadata.length > 0) {
    try {
      const m: unknown = JSON.parse(utf8.decode(link.metadata))
      const o = typeof m === "object" && m !== null ? (m as Record<string, unknown>)["$o"] : undefined
      if (typeof o === "string") return o
    } catch {
      // not JSON: the event's own stream
    }
  }
  return event.streamId.startsWith("$$") ? event.streamId.slice(2) : event.streamId
}

/** The category of a stream: the part before its first dash, or undefined without a dash. */
export const categoryOf = (stream: string): string | undefined => {
  const dash = stream.indexOf("-")
  return dash < 0 ? undefined : stream.slice(0, dash)
}

/**
 * Does the deletion of `stream` reach a query's `$deleted` handler? Only a `foreachStream` query
 * (a real node's ByStreamStatePartitionSelector is the only one whose
 * `EventReaderBasePartitionDeletedIsSupported` is true) with a `$deleted` handler, for a stream
 * among its sources.
 *
 * @since 0.1.0
 * @category predicates
 */
export const deletionApplies = (d: ProjectionDefinition, stream: string): boolean => {
  if (!d.byStreams || !d.handlesDeletedNotifications) return false
  if (d.allStreams || d.catalogStream !== null || d.streams.includes(stream)) return true
  const category = categoryOf(stream)
  return category !== undefined && d.categories.includes(category)
}
