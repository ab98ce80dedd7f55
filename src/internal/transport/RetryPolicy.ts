/**
 * How the retry `Schedule` is applied to an operation: only while the failure may be retried
 * (`Retry.ts` answers that), never past the operation's deadline, and after a failure to connect
 * has been diagnosed (a TLS mismatch is not retried). The Schedule's time is the Clock's.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { TlsFailed } from "../../errors/TlsFailed.ts"
import type { CallError } from "./CallError.ts"

/**
 * The Schedule bounded by a deadline (an instant of the Clock; Infinity or undefined for none):
 * it ends when its next delay would start the next attempt at or after the deadline.
 *
 * @internal
 */
export const withinDeadline = <O, I>(schedule: Schedule.Schedule<O, I>, until: number | undefined): Schedule.Schedule<O, I> =>
  until === undefined || until === Infinity
    ? schedule
    : Schedule.while(schedule, ({ duration, now }) => now + Duration.toMillis(duration) < until)

/**
 * Diagnoses a failure before it is retried (see `TlsDiagnosis.ts`).
 *
 * @internal
 */
export type Diagnose = <E extends CallError>(error: E) => Effect.Effect<E | TlsFailed>

/**
 * Runs `effect` again under `schedule` while `retryable` says so, within `until`.
 *
 * The retry machinery is set up only after a first retryable failure (it costs a few µs per call
 * otherwise); that failure is replayed into it, so the Schedule sees the same sequence.
 *
 * @internal
 */
export const retry = <A, E extends CallError, R>(
  effect: Effect.Effect<A, E, R>,
  options: {
    readonly schedule: Schedule.Schedule<unknown, CallError>
    readonly retryable: (error: CallError) => boolean
    readonly diagnose: Diagnose
    readonly until?: number | undefined
  }
): Effect.Effect<A, E | TlsFailed, R> =>
  Effect.catchIf(effect, (error: E) => options.retryable(error), (first: E) =>
    Effect.flatMap(options.diagnose(first), (diagnosed) => {
      if (diagnosed._tag === "TlsFailed") return Effect.fail(diagnosed)
      let replay: E | undefined = first
      const again = Effect.suspend(() => {
        if (replay === undefined) return effect
        const error = replay
        replay = undefined
        return Effect.fail(error)
      })
      return Effect.retry(again, {
        schedule: withinDeadline(options.schedule, options.until),
        while: (error: E) => options.retryable(error)
      })
    }))
