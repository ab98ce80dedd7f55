/**
 * Where a persistent-subscription group starts: given to `create…` and `update…`, and reported
 * decoded by `getInfo…` and `list…` (`SubscriptionInfo.startFrom`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A position in `$all`: the commit and prepare positions of an event (equal for events written
 * outside transactions, which is every event a gRPC client writes).
 *
 * @since 0.1.0
 * @category models
 */
export const AllPosition = Schema.Struct({ commitPosition: Schema.BigInt, preparePosition: Schema.BigInt })

/**
 * @since 0.1.0
 * @category models
 */
export type AllPosition = typeof AllPosition.Type

/**
 * Where a group on a stream starts: its first event (`"start"`, the default), its end (`"end"`:
 * only events appended after the group was created), or an event number.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamFrom = "start" | "end" | bigint

/**
 * Where a group on `$all` starts: its first event (`"start"`, the default), its end (`"end"`),
 * a commit position (`bigint`, taken as both commit and prepare position), or an
 * {@link AllPosition}.
 *
 * @since 0.1.0
 * @category models
 */
export type AllFrom = "start" | "end" | bigint | AllPosition

/**
 * A group's start as a node reports it: `"start"`, `"end"`, an event number (a group on a
 * stream) or an {@link AllPosition} (a group on `$all`).
 *
 * @since 0.1.0
 * @category models
 */
export const StartFrom = Schema.Union([Schema.Literals(["start", "end"]), Schema.BigInt, AllPosition])

/**
 * @since 0.1.0
 * @category models
 */
export type StartFrom = typeof StartFrom.Type

const ALL_POSITION = /^C:(-?\d+)\/P:(-?\d+)$/

/**
 * Decodes the start a node reports as text: `-1` and `C:-1/P:-1` are the end, `0` and `C:0/P:0`
 * the start (as the official client reads them), other numbers an event number, `C:<c>/P:<p>` a
 * position in `$all`; `undefined` for anything else.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (text: string): StartFrom | undefined => {
  const all = ALL_POSITION.exec(text)
  if (all !== null) {
    const commitPosition = BigInt(all[1]!)
    const preparePosition = BigInt(all[2]!)
    if (commitPosition === -1n) return "end"
    if (commitPosition < 0n || preparePosition < 0n) return undefined
    return commitPosition === 0n && preparePosition === 0n ? "start" : { commitPosition, preparePosition }
  }
  if (text === "-1") return "end"
  if (!/^\d+$/.test(text)) return undefined
  const n = BigInt(text)
  return n === 0n ? "start" : n
}
