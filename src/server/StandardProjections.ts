/**
 * The standard projections `$by_event_type` and `$by_category` of a node started with
 * `--run-projections=All --start-standard-projections`: for every event appended to a user
 * stream (name not starting with `$`) a link event (`$>`, data `<eventNumber>@<stream>`) goes to
 * `$et-<eventType>` (unless the type starts with `$`) and, when the stream name has a `-`, to
 * `$ce-<category>` (category = the part before the first `-`).
 *
 * @since 0.1.0
 */
import type { EventRecord, ProposedEvent } from "./storage/Store.ts"
import { newUuid } from "./Uuid.ts"

/**
 * One link to write: the target stream and the proposed link event.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectedLink {
  readonly stream: string
  readonly event: ProposedEvent
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

/**
 * The links the standard projections write for one committed event (none for system streams).
 *
 * @since 0.1.0
 * @category projections
 */
export const standardProjectionLinks = (record: EventRecord): ReadonlyArray<ProjectedLink> => {
  if (record.isTombstone || record.stream.startsWith("$")) return []
  const targets: Array<string> = []
  if (!record.eventType.startsWith("$")) targets.push("$et-" + record.eventType)
  const category = categoryOf(record.stream)
  if (category !== undefined) targets.push("$ce-" + category)
  if (targets.length === 0) return []
  const data = Buffer.from(`${record.eventNumber}@${record.stream}`, "utf8")
  const customMetadata = Buffer.from(
    JSON.stringify({
      "$v": "1:-1:1:4",
      "$c": record.position,
      "$p": record.position,
      "$o": record.stream,
      "$causedBy": record.eventId
    }),
    "utf8"
  )
  return targets.map((stream) => ({
    stream,
    event: { eventId: newUuid(), eventType: "$>", isJson: false, data, customMetadata }
  }))
}
