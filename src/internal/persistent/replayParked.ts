/**
 * `PersistentSubscriptions.replayParked`: asks the node to deliver a group's parked events again,
 * all of them or the first `stopAt`.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { ReplayParkedReq } from "../../generated/persistent.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type SubscriptionGroupError, toGroupError } from "./errors.ts"
import { ReplayParked } from "./methods.ts"
import * as validate from "./settings.ts"

/**
 * Options of `replayParked`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplayParkedOptions extends CallOptions {
  /** Replay at most this many parked events (all by default). */
  readonly stopAt?: number | bigint | undefined
}

const INT64_MAX = 9223372036854775807n

/** @internal */
export const replayParked = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: ReplayParkedOptions
): Effect.Effect<void, SubscriptionGroupError> =>
  Effect.suspend(() => {
    const stopAt = options?.stopAt
    const problem = validate.streamName(stream) ?? validate.groupName(group) ??
      (stopAt !== undefined &&
          !((typeof stopAt === "bigint" && stopAt >= 0n && stopAt <= INT64_MAX) ||
            (Number.isSafeInteger(stopAt) && Number(stopAt) >= 0))
        ? validate.invalidArgument(`stopAt must be an integer in 0..2^63-1, got ${String(stopAt)}`)
        : undefined)
    if (problem) return Effect.fail(problem)
    const request: ReplayParkedReq = {
      options: {
        groupName: group,
        streamOption: validate.source(stream),
        stopAtOption: stopAt === undefined ? { $case: "noLimit", value: {} } : { $case: "stopAt", value: BigInt(stopAt) }
      }
    }
    return transport.retry(transport.unary(ReplayParked, request, { options, kind: "write", context: { stream } })).pipe(
      Effect.asVoid,
      Effect.mapError(toGroupError(stream, group))
    )
  }).pipe(transport.traceEffect("PersistentSubscriptions.replayParked", { "db.collection.name": stream, group }))
