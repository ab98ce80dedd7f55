/**
 * Reads and subscriptions that resume after connection failures: the Stream is started again
 * (from the cursor its maker keeps) under the retry `Schedule`, which starts afresh once an
 * attempt delivered something.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { TlsFailed } from "../../errors/TlsFailed.ts"
import type { CallError } from "./CallError.ts"
import { canResume } from "./Retry.ts"
import { type Diagnose, withinDeadline } from "./RetryPolicy.ts"

// resumes unless the run's deadline (an instant of the Clock) has passed
const resumeBefore = <A, E>(until: number | undefined, loop: () => Stream.Stream<A, E>, error: E): Stream.Stream<A, E> =>
  until === undefined || until === Infinity
    ? loop()
    : Stream.unwrap(Effect.map(Clock.currentTimeMillis, (now) => now < until ? loop() : Stream.fail(error)))

/**
 * Makes `resumable` for a connection's retry Schedule and failure diagnosis.
 *
 * @internal
 */
export const make = (retrySchedule: Schedule.Schedule<unknown, CallError>, diagnose: Diagnose) => {
    const resumeSchedule = retrySchedule.pipe(Schedule.while(({ input }) => canResume(input)))
    const resumable = <A, E extends CallError>(
      make: () => Stream.Stream<A, E>,
      until?: number
    ): Stream.Stream<A, E | TlsFailed> => {
      const schedule = withinDeadline(resumeSchedule, until)
      const loop = (): Stream.Stream<A, E | TlsFailed> => {
        let progressed = false
        return Stream.suspend(() => {
          progressed = false
          return make()
        }).pipe(
          // per chunk, not per element: this sits on the hot path of every read
          Stream.mapArray((items) => {
            progressed = true
            return items
          }),
          Stream.catch((error: E) => Stream.fromEffect(Effect.flatMap(diagnose(error), Effect.fail))),
          Stream.retry(schedule as Schedule.Schedule<unknown, E | TlsFailed>),
          Stream.catch((error: E | TlsFailed) =>
            progressed && canResume(error) ? resumeBefore(until, loop, error) : Stream.fail(error)
          )
        )
      }
      return loop()
    }
    return resumable
}
