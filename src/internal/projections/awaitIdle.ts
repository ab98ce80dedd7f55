/**
 * `Projections.awaitIdle`: polls the projection's statistics, by a `Schedule`, until it has
 * processed everything up to a commit position (by default the end of `$all` when the wait
 * starts), a one-time projection has completed, or it is faulted (ProjectionFaulted with its
 * reason). When the Schedule ends first: ProjectionIdleTimeout.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { commitPositionOf, type ProjectionDetails } from "../../domain/ProjectionDetails.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { ProjectionFaulted } from "../../errors/ProjectionFaulted.ts"
import { ProjectionIdleTimeout } from "../../errors/ProjectionIdleTimeout.ts"
import type { ProjectionNotFound } from "../../errors/ProjectionNotFound.ts"
import { getCommitPosition } from "../streams/readAll.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import type { TransportError } from "./errors.ts"
import { getStatistics } from "./statistics.ts"
import * as validate from "./validate.ts"

/**
 * Options of waiting for a projection to be idle.
 *
 * @since 0.1.0
 * @category models
 */
export interface AwaitIdleOptions extends CallOptions {
  /** The commit position to reach; default: the end of `$all` when the wait starts. */
  readonly commitPosition?: bigint | undefined
  /**
   * When to look again; when it ends, the wait fails with ProjectionIdleTimeout. Default
   * {@link defaultAwaitIdleSchedule}.
   */
  readonly schedule?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * Errors of `awaitIdle`.
 *
 * @since 0.1.0
 * @category errors
 */
export type AwaitIdleError = ProjectionNotFound | ProjectionFaulted | ProjectionIdleTimeout | TransportError

/**
 * The default polling of `awaitIdle`: every 50 ms, for at most 30 seconds.
 *
 * @since 0.1.0
 * @category schedules
 */
export const defaultAwaitIdleSchedule: Schedule.Schedule<unknown, unknown> = Schedule.spaced("50 millis").pipe(
  Schedule.upTo({ duration: "30 seconds" })
)

/** The projection has not got there yet (the value retried on). */
class NotYet extends Data.TaggedError("NotYet")<{ readonly details: ProjectionDetails }> {}

/** Whether the projection is done with everything up to `target`. */
const reached = (details: ProjectionDetails, target: bigint): boolean => {
  if (details.state === "Completed") return true
  if (details.state !== "Running") return false
  const position = commitPositionOf(details.position)
  // a projection that reports no `$all` position (one reading a stream) is done when it says 100%
  return position === undefined ? (details.position !== "" && details.progress >= 100) || target <= 0n : position >= target
}

/** @internal */
export const awaitIdle = (
  transport: TransportShape,
  name: string,
  options?: AwaitIdleOptions
): Effect.Effect<ProjectionDetails, AwaitIdleError> =>
  Effect.suspend(() => {
    const problem = validate.name(name)
    if (problem) return Effect.fail(problem)
    if (options?.commitPosition !== undefined && options.commitPosition < 0n) {
      return Effect.fail(new InvalidArgument({ reason: "commitPosition must not be negative" }))
    }
    const target: Effect.Effect<bigint, TransportError> = options?.commitPosition !== undefined
      ? Effect.succeed(options.commitPosition)
      : getCommitPosition(transport, options)
    return Effect.flatMap(target, (target) => {
      const check: Effect.Effect<ProjectionDetails, NotYet | ProjectionFaulted | ProjectionNotFound | TransportError> =
        Effect.flatMap(getStatistics(transport, name, options), (details): Effect.Effect<
          ProjectionDetails,
          NotYet | ProjectionFaulted
        > => {
          if (details.state === "Faulted") {
            return Effect.fail(new ProjectionFaulted({ name, reason: details.stateReason }))
          }
          return reached(details, target) ? Effect.succeed(details) : Effect.fail(new NotYet({ details }))
        })
      return check.pipe(
        Effect.retry({
          schedule: options?.schedule ?? defaultAwaitIdleSchedule,
          while: (error) => error._tag === "NotYet"
        }),
        Effect.catchTag("NotYet", ({ details }) =>
          Effect.fail(
            new ProjectionIdleTimeout({
              name,
              target,
              position: commitPositionOf(details.position) ?? -1n,
              status: details.status
            })
          ))
      )
    })
  }).pipe(transport.traceEffect("Projections.awaitIdle", { "db.projection.name": name }))
