/**
 * Server-side filters for `$all` reads and subscriptions.
 *
 * @since 0.1.0
 */

/**
 * Matches the type of the events the server writes itself (`$metadata`, `$>`, `$streamDeleted`,
 * `$settings`, …): a `$` followed by at least one character. The seed client's
 * `ESDB_SYSTEM_EVENTS_REGEX`. Like every pattern given to `filterInclude` / `filterExclude`, it is
 * anchored at both ends, so it does not need `^` or `$`.
 *
 * @example
 * ```ts
 * import { Filter } from "effect-esdb"
 *
 * // only the system events
 * const system = streams.readAll({ filterInclude: [Filter.ESDB_SYSTEM_EVENTS_REGEX] })
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const ESDB_SYSTEM_EVENTS_REGEX = "\\$.+"

/**
 * Matches the type of the events persistent subscriptions record their configuration with
 * (`PersistentConfig1`, …). The seed client's `ESDB_PERSISTENT_CONFIG_EVENTS_REGEX`.
 *
 * @since 0.1.0
 * @category constants
 */
export const ESDB_PERSISTENT_CONFIG_EVENTS_REGEX = "PersistentConfig\\d+"

/**
 * The default of `filterExclude`: {@link ESDB_SYSTEM_EVENTS_REGEX} and
 * {@link ESDB_PERSISTENT_CONFIG_EVENTS_REGEX}, so reads and subscriptions of `$all` see only the
 * events applications wrote. Extend it rather than replace it to keep those hidden, e.g.
 * `[...Filter.DEFAULT_EXCLUDE_FILTER, ".*Snapshot"]`; `[]` disables filtering.
 *
 * The official Node client's `excludeSystemEvents()` sends the regular expression `^[^$].*` as an
 * event-type filter; the same here is `filterInclude: [Filter.NON_SYSTEM_EVENTS_REGEX]`.
 *
 * @example
 * ```ts
 * import { Filter } from "effect-esdb"
 *
 * const noSnapshots = streams.readAll({ filterExclude: [...Filter.DEFAULT_EXCLUDE_FILTER, ".*Snapshot"] })
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_EXCLUDE_FILTER: ReadonlyArray<string> = [ESDB_SYSTEM_EVENTS_REGEX, ESDB_PERSISTENT_CONFIG_EVENTS_REGEX]

/**
 * Matches every event type that does not start with `$`: the regular expression of the official
 * Node client's `excludeSystemEvents()` filter (`^[^$].*`, anchored here), for `filterInclude`.
 * Unlike {@link DEFAULT_EXCLUDE_FILTER} it keeps `PersistentConfig` events.
 *
 * @since 0.1.0
 * @category constants
 */
export const NON_SYSTEM_EVENTS_REGEX = "[^$].*"

/**
 * Filter options shared by `readAll`, `subscribeToAll` and `getCommitPosition`.
 *
 * - `filterInclude`: regular expressions, one of which must match the whole event type (or
 *   stream name); when given, `filterExclude` is ignored.
 * - `filterExclude`: regular expressions none of which may match the whole name; defaults to
 *   {@link DEFAULT_EXCLUDE_FILTER}; `[]` disables filtering.
 * - `filterByStreamName`: match stream names instead of event types.
 *
 * @since 0.1.0
 * @category models
 */
export interface FilterOptions {
  readonly filterInclude?: string | ReadonlyArray<string> | undefined
  readonly filterExclude?: string | ReadonlyArray<string> | undefined
  readonly filterByStreamName?: boolean | undefined
}

/**
 * The filter as sent to the server: a single anchored regular expression on the event type or
 * the stream name, or `undefined` for no filter.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerFilter {
  readonly on: "eventType" | "streamName"
  readonly regex: string
}

const list = (value: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> | undefined =>
  value === undefined ? undefined : typeof value === "string" ? [value] : value

/**
 * Builds the server filter. Patterns are grouped and anchored as one expression:
 * include `^(?:A|B)$`, exclude `^(?!(?:A|B)$)` (the seed client's include was ungrouped, so
 * `^A|B$` matched any name starting with A).
 *
 * @since 0.1.0
 * @category constructors
 */
export const toServerFilter = (options: FilterOptions | undefined): ServerFilter | undefined => {
  const on = options?.filterByStreamName === true ? "streamName" : "eventType"
  const include = list(options?.filterInclude)
  if (include !== undefined && include.length > 0) {
    return { on, regex: `^(?:${include.join("|")})$` }
  }
  const exclude = list(options?.filterExclude) ?? DEFAULT_EXCLUDE_FILTER
  if (exclude.length === 0) return undefined
  return { on, regex: `^(?!(?:${exclude.join("|")})$)` }
}
