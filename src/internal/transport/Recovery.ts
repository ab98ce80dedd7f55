/**
 * How a retry, resume or reconnect Schedule is run: only for the failures Retry.ts allows, within
 * the operation's deadline, and never silently. Each time the Schedule decides to go again, a
 * warning is logged (operation, the failure's tag and message, the attempt, the next delay) and
 * the `esdb_recoveries` counter is incremented (attributes: `operation`, `action`, `cause`).
 *
 * The attempt counts from 1 for each outage: a Schedule driven by `Stream.retry` starts afresh
 * once the Stream delivered something again, and so does this counter (its state lives in the
 * Schedule's step).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"

/**
 * What is done again: a single call sent again (`retry`), a read or subscription started again
 * from its cursor (`resume`), a persistent-subscription consumer connected again (`reconnect`).
 *
 * @since 0.1.0
 * @category models
 */
export type Recovery = "retry" | "resume" | "reconnect"

/**
 * A failure as the log shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure {
  readonly _tag: string
  readonly message: string
}

/**
 * How a Schedule is observed.
 *
 * - `operation`: the operation's name (`Streams.subscribeToAll`, `PersistentSubscriptions.consume`…).
 * - `allow`: whether the failure may be recovered from at all (a predicate of Retry.ts).
 * - `until`: an absolute deadline in epoch milliseconds (Clock time): no attempt starts at or after it.
 * - `attributes`: added to the log annotations and to the metric (stream, group…).
 *
 * @since 0.1.0
 * @category models
 */
export interface RecoveryOptions<I> {
  readonly operation: string
  readonly action: Recovery
  readonly allow: (failure: I) => boolean
  readonly until?: number | undefined
  readonly attributes?: Readonly<Record<string, string>> | undefined
}

/**
 * Counts every retry, resume and reconnect (attributes `operation`, `action`, `cause`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const recoveries = Metric.counter("esdb_recoveries", {
  description: "Calls retried, reads and subscriptions resumed, consumers reconnected after a failure",
  incremental: true
})

const verb: Record<Recovery, string> = { retry: "retrying", resume: "resuming", reconnect: "reconnecting" }

/**
 * Logs and counts one recovery about to happen after `delay`.
 *
 * @since 0.1.0
 * @category logging
 */
export const report = <I extends Failure>(
  options: RecoveryOptions<I>,
  failure: I,
  attempt: number,
  delay: Duration.Duration
): Effect.Effect<void> => {
  const millis = Math.round(Duration.toMillis(delay))
  return Effect.logWarning(
    `effect-esdb: ${verb[options.action]} ${options.operation} after ${failure._tag}: ${failure.message} ` +
      `(attempt ${attempt}, next in ${millis} ms)`
  ).pipe(
    Effect.annotateLogs({
      ...options.attributes,
      operation: options.operation,
      action: options.action,
      cause: failure._tag,
      attempt,
      delayMillis: millis
    }),
    Effect.andThen(
      Metric.update(
        Metric.withAttributes(recoveries, {
          ...options.attributes,
          operation: options.operation,
          action: options.action,
          cause: failure._tag
        }),
        1
      )
    )
  )
}

/**
 * The Schedule, limited to the failures `allow` accepts and to the deadline, reporting each
 * recovery it decides on (see the module's description).
 *
 * @since 0.1.0
 * @category combinators
 */
export const observed = <O, I extends Failure, E, R>(
  schedule: Schedule.Schedule<O, I, E, R>,
  options: RecoveryOptions<I>
): Schedule.Schedule<O, I, E, R> =>
  Schedule.fromStep(Effect.map(Schedule.toStep(schedule), (step) => {
    let attempt = 0
    return (now: number, input: I) =>
      Effect.flatMap(step(now, input), (result) => {
        const [output, delay] = result
        const until = options.until
        if (!options.allow(input) || (until !== undefined && until !== Infinity && now + Duration.toMillis(delay) >= until)) {
          return Cause.done(output)
        }
        attempt++
        return Effect.as(report(options, input, attempt, delay), result)
      })
  }))
