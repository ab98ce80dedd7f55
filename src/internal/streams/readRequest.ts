/**
 * The `ReadReq` messages of reads and subscriptions, of one stream or of `$all`.
 *
 * @internal
 */
import { type FilterOptions, toServerFilter } from "../../domain/Filter.ts"
import type { ReadReq, ReadReq_Options } from "../../generated/streams.ts"
import { empty, streamIdentifier } from "../convert.ts"

const uuidOption: ReadReq_Options["uuidOption"] = { content: { $case: "string", value: empty } }

/** Where a read starts: a position, or the start or end. @internal */
export type From = bigint | "start" | "end"

/** How many events: a count, or a subscription (no end). @internal */
export type Count = bigint | "subscription"

const countOption = (count: Count): ReadReq_Options["countOption"] =>
  count === "subscription" ? { $case: "subscription", value: {} } : { $case: "count", value: count }

/** A read of (or subscription to) one stream. @internal */
export const streamRequest = (
  stream: string,
  from: From,
  backwards: boolean,
  resolveLinks: boolean,
  count: Count
): ReadReq => ({
  options: {
    streamOption: {
      $case: "stream",
      value: {
        streamIdentifier: streamIdentifier(stream),
        revisionOption: typeof from === "bigint" ? { $case: "revision", value: from } : { $case: from, value: empty }
      }
    },
    readDirection: backwards ? 1 : 0,
    resolveLinks,
    countOption: countOption(count),
    filterOption: { $case: "noFilter", value: empty },
    uuidOption,
    controlOption: undefined
  }
})

/** The server-side filter of a `$all` read or subscription. @internal */
export const filterOption = (
  options: FilterOptions | undefined,
  windowSize?: number,
  multiplier?: number
): ReadReq_Options["filterOption"] => {
  const filter = toServerFilter(options)
  if (filter === undefined) return { $case: "noFilter", value: empty }
  const expression = { regex: filter.regex, prefix: [] }
  return {
    $case: "filter",
    value: {
      filter: filter.on === "streamName"
        ? { $case: "streamIdentifier", value: expression }
        : { $case: "eventType", value: expression },
      window: { $case: "max", value: windowSize ?? 30 },
      checkpointIntervalMultiplier: multiplier ?? 5
    }
  }
}

/** A read of (or subscription to) `$all`. @internal */
export const allRequest = (
  from: From,
  backwards: boolean,
  resolveLinks: boolean,
  count: Count,
  filter: ReadReq_Options["filterOption"]
): ReadReq => ({
  options: {
    streamOption: {
      $case: "all",
      value: {
        allOption: typeof from === "bigint"
          ? { $case: "position", value: { commitPosition: from, preparePosition: from } }
          : { $case: from, value: empty }
      }
    },
    readDirection: backwards ? 1 : 0,
    resolveLinks,
    countOption: countOption(count),
    filterOption: filter,
    uuidOption,
    controlOption: undefined
  }
})
