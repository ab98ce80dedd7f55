/**
 * A grpc-js server-streaming call as a pull-based Stream: messages go through a handler that
 * pushes domain values into a bounded queue; the call is paused while the queue is full and
 * resumed when the consumer has taken from it; closing the Stream's scope cancels the call.
 * grpc-js callbacks re-enter Effect with the context captured when the Stream started.
 *
 * @internal
 */
import type * as grpc from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { identity } from "effect/Function"
import type * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import type { TlsFailed } from "../../errors/TlsFailed.ts"
import type { CallError } from "./CallError.ts"
import { observed } from "./Recovery.ts"
import { canResume } from "./Retry.ts"

/**
 * What a server-stream handler can do with each message.
 *
 * @internal
 */
export interface Emit<A> {
  readonly push: (item: A) => void
  readonly end: () => void
  readonly fail: (error: CallError) => void
}

/**
 * A running server-streaming call, as the Stream drives it.
 *
 * @internal
 */
export interface ReadingCall {
  /** Stops reading replies (HTTP/2 flow control then holds the node back) until `resume`. */
  readonly pause: () => void
  readonly resume: () => void
  readonly cancel: () => void
}

/**
 * What a running call reports: each reply, then its end, once (`undefined` for a status OK).
 *
 * @internal
 */
export interface ReadingListener<M> {
  readonly onMessage: (message: M) => void
  readonly onEnd: (failure: grpc.ServiceError | undefined) => void
}

/**
 * The pieces the transport hands over: `start` opens the call (in the Stream's scope, so it may
 * acquire a channel slot) with the listener of its replies, `classify` turns a grpc-js failure
 * into a typed error.
 *
 * @internal
 */
export interface ServerStreamCall<M> {
  readonly start: (listener: ReadingListener<M>) => Effect.Effect<ReadingCall, CallError, Scope.Scope>
  readonly classify: (failure: unknown) => CallError
}

/**
 * Runs a server-streaming call as a Stream (each run is a new call).
 *
 * @internal
 */
export const serverStream = <M, A>(
  call: ServerStreamCall<M>,
  handle: (message: M, emit: Emit<A>) => void,
  bufferSize = 256
): Stream.Stream<A, CallError> =>
  Stream.callback<A, CallError>((queue) =>
    Effect.gen(function*() {
      const runFork = Effect.runForkWith(yield* Effect.context<never>())
      // set once the call is open; its replies and end come later (never while it opens)
      let stream: ReadingCall | undefined
      let finished = false
      let paused = false
      let pending: Array<A> = []
      let afterDrain: (() => void) | undefined
      const resumeWhenRoom = () => {
        const batch = pending
        pending = []
        runFork(
          Effect.andThen(
            Queue.offerAll(queue, batch),
            Effect.sync(() => {
              if (pending.length > 0) return resumeWhenRoom()
              paused = false
              const then = afterDrain
              afterDrain = undefined
              if (then !== undefined) then()
              else if (!finished) stream?.resume()
            })
          )
        )
      }
      // the end (or failure) goes into the queue after the items still waiting for room
      const whenDrained = (f: () => void) => {
        if (paused) afterDrain = f
        else f()
      }
      const endAfterPending = () => whenDrained(() => Queue.endUnsafe(queue))
      const failAfterPending = (error: CallError) => whenDrained(() => Queue.failCauseUnsafe(queue, Cause.fail(error)))
      const emit: Emit<A> = {
        push: (item) => {
          if (finished) return
          if (paused) {
            pending.push(item)
            return
          }
          if (!Queue.offerUnsafe(queue, item)) {
            paused = true
            stream?.pause()
            pending.push(item)
            resumeWhenRoom()
          }
        },
        end: () => {
          if (finished) return
          finished = true
          stream?.cancel()
          endAfterPending()
        },
        fail: (error) => {
          if (finished) return
          finished = true
          stream?.cancel()
          failAfterPending(error)
        }
      }
      stream = yield* call.start({
        onMessage: (message) => {
          try {
            handle(message, emit)
          } catch (cause) {
            emit.fail(call.classify(cause))
          }
        },
        onEnd: (failure) => {
          if (finished) return
          finished = true
          if (failure === undefined) endAfterPending()
          else failAfterPending(call.classify(failure))
        }
      })
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (!finished) {
            finished = true
            stream?.cancel()
          }
        })
      )
    }), { bufferSize })

/**
 * How {@link resumeStream} runs: the operation (for the log and the metric), whether the Stream
 * never ends by itself, the Schedule, the deadline (epoch milliseconds), and the diagnosis of a
 * failure before it is judged (a plain-text connection refused by a TLS node is a TlsFailed).
 *
 * @internal
 */
export interface ResumeStreamOptions {
  readonly operation: string
  readonly endless: boolean
  readonly schedule: Schedule.Schedule<unknown, CallError>
  readonly until?: number | undefined
  readonly attributes?: Readonly<Record<string, string>> | undefined
  readonly diagnose: <E extends CallError>(error: E) => Effect.Effect<E | TlsFailed>
}

/**
 * Runs `make()` again after each failure {@link canResume} accepts, following the Schedule
 * (which starts afresh, attempt counter included, once a run delivered something: `Stream.retry`
 * resets it on the first element), and reports each resume (Recovery.ts). With `endless`, a run
 * that ends (the node ended the call with status OK, as a node does when it shuts down) is
 * resumed as a `ServiceUnavailable`: a subscription never ends by itself. Each run reads its own
 * cursor, so it goes on from the last delivered position.
 *
 * @internal
 */
export const resumeStream = <A, E extends CallError>(
  make: () => Stream.Stream<A, E>,
  options: ResumeStreamOptions
): Stream.Stream<A, E | TlsFailed | ServiceUnavailable> => {
  const once: Stream.Stream<A, E | TlsFailed | ServiceUnavailable> = Stream.suspend(make).pipe(
    options.endless ? Stream.concat(Stream.fail(endedByNode(options.operation))) : identity,
    Stream.catch((error: E | ServiceUnavailable) => Stream.fromEffect(Effect.flatMap(options.diagnose(error), Effect.fail)))
  )
  return once.pipe(
    Stream.retry(observed(options.schedule, {
      operation: options.operation,
      action: "resume",
      allow: canResume,
      until: options.until,
      attributes: options.attributes
    }))
  )
}

const endedByNode = (operation: string): ServiceUnavailable =>
  new ServiceUnavailable({ reason: `The node ended the call of ${operation} (a subscription never ends by itself)` })
