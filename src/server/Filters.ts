/**
 * Server-side event filters of `$all` reads and subscriptions (PROTOCOL.md §1 "Filters"): by stream
 * name or event type, with an unanchored regex (wins when non-empty; matched in linear time, see
 * UserPattern.ts) or prefixes (any StartsWith).
 * Every `$all` read is additionally ANDed with the DefaultAllFilter (see `hiddenFromAll`).
 *
 * @since 0.1.0
 */
import type { ReadReq_Options_FilterOptions } from "../generated/streams.ts"
import { invalidArgument, invalidArgumentOf, type RpcFailure } from "./errors.ts"
import type { EventRecord } from "./storage/Store.ts"
import { compilePattern, PatternError } from "./UserPattern.ts"

/**
 * A predicate over records.
 *
 * @since 0.1.0
 * @category models
 */
export type EventFilter = (record: EventRecord) => boolean

/**
 * A compiled filter with its checkpoint settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompiledFilter {
  readonly matches: EventFilter
  /** `max` window, or 32 for `count`. */
  readonly window: number
  readonly checkpointIntervalMultiplier: number
}

/**
 * Compiles the wire filter options; fails with INVALID_ARGUMENT for malformed ones.
 *
 * @since 0.1.0
 * @category constructors
 */
export const compileFilter = (options: ReadReq_Options_FilterOptions): CompiledFilter | RpcFailure => {
  const filter = options.filter
  if (filter === undefined) {
    return invalidArgumentOf("None", "EventStore.Client.Streams.ReadReq+Types+Options+Types+FilterOptions+FilterOneofCase")
  }
  const window = options.window
  if (window === undefined) {
    return invalidArgumentOf("None", "EventStore.Client.Streams.ReadReq+Types+Options+Types+FilterOptions+WindowOneofCase")
  }
  const select: (r: EventRecord) => string = filter.$case === "streamIdentifier" ? (r) => r.stream : (r) => r.eventType
  let matches: EventFilter
  if (filter.value.regex !== "") {
    const test = compilePattern(filter.value.regex)
    if (test instanceof PatternError) return invalidArgument(test.message)
    matches = (r) => test(select(r))
  } else {
    const prefixes = filter.value.prefix
    if (prefixes.length === 1) {
      const p = prefixes[0]!
      matches = (r) => select(r).startsWith(p)
    } else {
      matches = (r) => {
        const s = select(r)
        for (const p of prefixes) if (s.startsWith(p)) return true
        return false
      }
    }
  }
  return {
    matches,
    window: window.$case === "max" ? window.value : 32,
    checkpointIntervalMultiplier: options.checkpointIntervalMultiplier
  }
}
