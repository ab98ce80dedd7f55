/**
 * A Stream of runs of a long-lived call, connected again after a failure its Schedule allows: what
 * `Stream.retry` does, in one stage. A persistent-subscription consumer pulls once per event (grpc-js
 * hands over one message per `process.nextTick`, BENCHMARKS.md section 11), and `Stream.retry`
 * puts three stages around every pull (the retry loop's `catchCause`, the Schedule's metadata
 * service, the reset on the first element); here a pull is the run's own pull under one
 * `catchCause`, and the reset is a flag set by `progress`.
 *
 * The rules are `Stream.retry`'s: each run gets its own scope (closed before the next run starts,
 * and when the Stream's consumer stops); a run that fails, while connecting or later, with a typed
 * error goes to the Schedule, which waits its delay and connects again, or, once it gives up,
 * ends the Stream with that error; defects and interruptions end the Stream; the Schedule starts
 * afresh once a run delivered something (`progress`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Pull from "effect/Pull"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Arr from "effect/Array"

/**
 * One run: connects in `scope` and yields its pull. `progress` is to be called when the run
 * delivers (cheap: it clears a reference).
 *
 * @internal
 */
export type Run<A, E> = (
  scope: Scope.Scope,
  progress: () => void
) => Effect.Effect<Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E>, E>

/** @internal */
export const reconnecting = <A, E>(run: Run<A, E>, schedule: Schedule.Schedule<unknown, E>): Stream.Stream<A, E> =>
  Stream.fromChannel(Channel.fromTransform((_, scope) =>
    Effect.sync(() => {
      let current: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E> | undefined
      let step: ((input: E) => Pull.Pull<unknown, never, unknown>) | undefined
      const progress = () => {
        step = undefined
      }
      // after a run ended with `cause`: the Schedule's decision (its wait included), or the end
      const again = (cause: Cause.Cause<E | Cause.Done>): Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E> => {
        const exit = Pull.doneExitFromCause(cause)
        if (Exit.isSuccess(exit)) return Cause.done()
        const error = Cause.findErrorOption(exit.cause)
        if (Option.isNone(error)) return Effect.failCause(exit.cause)
        return Effect.gen(function*() {
          if (step === undefined) step = yield* Schedule.toStepWithMetadata(schedule)
          yield* step(error.value)
        }).pipe(
          Pull.catchDone(() => Effect.fail(error.value)),
          Effect.andThen(connect)
        )
      }
      const connect: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E> = Effect.suspend(() => {
        current = undefined
        const runScope = Scope.forkUnsafe(scope)
        const ended = (cause: Cause.Cause<E | Cause.Done>) =>
          Effect.andThen(Scope.close(runScope, Pull.doneExitFromCause(cause)), again(cause))
        return Effect.matchCauseEffect(run(runScope, progress), {
          onFailure: ended,
          onSuccess: (pull) => {
            current = Effect.catchCause(pull, ended)
            return current
          }
        })
      })
      return Effect.suspend(() => current ?? connect)
    })
  ))
