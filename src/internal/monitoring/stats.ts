/**
 * `Monitoring.stats`: the Stats call, a sample at once and then one per refresh period, as a
 * Stream that goes on until the consumer stops (resumed after faults under the resume policy).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { parseValue, Stats } from "../../domain/Stats.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { Code } from "../../generated/code.ts"
import type { StatsResp } from "../../generated/monitoring.ts"
import type { CallOptions, ResumeFailure } from "../transport/Options.ts"
import type * as Schedule from "effect/Schedule"
import { toTransportError, type TransportError } from "../transport/TransportError.ts"
import type { Emit, TransportShape } from "../transport/Transport.ts"
import { Stats as StatsMethod } from "./methods.ts"

/** Most keys one sample is read to (a node sending more is a hostile one). */
const MAX_KEYS = 100_000

/**
 * Options of the stats Stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatsOptions extends CallOptions {
  /** Replaces the connection's `resumeSchedule` for this Stream. */
  readonly resumeSchedule?: Schedule.Schedule<unknown, ResumeFailure> | undefined
}

/** @internal */
export const toStats = (message: StatsResp): Stats => {
  const raw: Record<string, string> = {}
  const values: Record<string, number | string> = {}
  for (const entry of message.stats) {
    raw[entry.key] = entry.value
    values[entry.key] = parseValue(entry.value)
  }
  return new Stats({ raw, values })
}

/** @internal */
export const stats = (
  transport: TransportShape,
  refreshEvery: Duration.Input,
  options?: StatsOptions
): Stream.Stream<Stats, TransportError> =>
  Stream.suspend(() => {
    const period = Duration.fromInput(refreshEvery)
    const millis = Option.isNone(period) ? NaN : Duration.toMillis(period.value)
    if (!Number.isFinite(millis) || millis < 1) {
      return Stream.fail(new InvalidArgument({ reason: "The stats refresh period must be a finite duration of at least 1 ms" }))
    }
    const refreshTimePeriodInMs = BigInt(Math.round(millis))
    return transport.stream({
      name: "Monitoring.stats",
      kind: "read",
      options,
      narrow: toTransportError
    }, (spec) => () =>
      transport.serverStream(StatsMethod, { useMetadata: false, refreshTimePeriodInMs }, spec, (message: StatsResp, emit: Emit<Stats>) => {
        if (message.stats.length > MAX_KEYS) {
          return emit.fail(new GrpcError({ code: Code.RESOURCE_EXHAUSTED, details: `A stats sample of more than ${MAX_KEYS} keys`, metadata: {} }))
        }
        emit.push(toStats(message))
      }), { endless: true, schedule: options?.resumeSchedule })
  })

/** The Effect type a sample is. @internal */
export type StatsEffect = Effect.Effect<Stats, TransportError>
