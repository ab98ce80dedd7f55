/**
 * How the retry `Schedule` is applied to a call: only while the failure may be retried
 * (`Retry.ts` answers that), never past the operation's deadline, each retry logged and counted
 * (`Recovery.ts`), and after a failure to connect has been diagnosed (a TLS mismatch is not
 * retried). The Schedule's time is the Clock's.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type { TlsFailed } from "../../errors/TlsFailed.ts"
import type { CallError } from "./CallError.ts"
import { observed } from "./Recovery.ts"

/**
 * Diagnoses a failure before it is retried (see `TlsDiagnosis.ts`).
 *
 * @internal
 */
export type Diagnose = <E extends CallError>(error: E) => Effect.Effect<E | TlsFailed>

/**
 * Runs `effect` again under `schedule` while `retryable` says so, within `until` (an instant of
 * the Clock), reporting each retry under `operation`.
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
    readonly operation: string
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
        schedule: observed(options.schedule, {
          operation: options.operation,
          action: "retry",
          allow: options.retryable,
          until: options.until
        })
      })
    }))
