/**
 * Server-side filters for `$all` reads and subscriptions.
 *
 * @since 0.1.0
 */

/**
 * The seed client's default exclusion: system events (`$…`) and persistent-subscription
 * configuration events.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_EXCLUDE_FILTER: ReadonlyArray<string> = ["\\$.+", "PersistentConfig\\d+"]

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
