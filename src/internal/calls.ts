/**
 * Wrappers that turn grpc-js calls into Effects and Streams: interruption cancels the call,
 * server streams are paused while the consumer is slow (bounded buffers), and failures are
 * classified once, by the connection.
 *
 * @internal
 */
import type * as grpc from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { EsdbError } from "./classifyError.ts"
import type { CallError, CallOptions, ChannelSlot, Connection } from "./Connection.ts"

/** Context used when classifying failures. @internal */
export interface CallContext {
  readonly stream?: string | undefined
}

/**
 * A unary call. `start` gets the slot, headers and call options and must invoke the callback.
 *
 * @internal
 */
export const unary = <Res>(
  connection: Connection,
  options: CallOptions | undefined,
  kind: "write" | "read",
  context: CallContext,
  start: (
    slot: ChannelSlot,
    metadata: grpc.Metadata,
    callOptions: Partial<grpc.CallOptions>,
    callback: (error: grpc.ServiceError | null, response: Res) => void
  ) => { cancel(): void }
): Effect.Effect<Res, CallError> =>
  Effect.flatMap(connection.acquire, (slot) =>
    Effect.callback<Res, EsdbError>((resume) => {
      let call: { cancel(): void } | undefined
      try {
        call = start(slot, connection.metadata(options), { deadline: connection.deadline(options, kind) }, (error, response) =>
          resume(error ? Effect.fail(connection.fail(slot, error, context)) : Effect.succeed(response)))
      } catch (cause) {
        resume(Effect.fail(connection.fail(slot, cause, context)))
      }
      return Effect.sync(() => call?.cancel())
    }))

/** What a server-stream handler can do with each message. @internal */
export interface Emit<A> {
  readonly push: (item: A) => void
  readonly end: () => void
  readonly fail: (error: EsdbError) => void
}

/**
 * A server-streaming call as a Stream. Each message goes through `handle`, which pushes domain
 * values, ends the stream or fails it. The grpc-js stream is paused whenever the buffer is full
 * and resumed when the consumer has taken from it; closing the Stream's scope cancels the call.
 *
 * @internal
 */
export const serverStream = <M, A>(
  connection: Connection,
  options: CallOptions | undefined,
  context: CallContext,
  start: (slot: ChannelSlot, metadata: grpc.Metadata, callOptions: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<M>,
  handle: (message: M, emit: Emit<A>) => void,
  bufferSize = 256
): Stream.Stream<A, CallError> =>
  Stream.callback<A, CallError>((queue) =>
    Effect.gen(function*() {
      const slot = yield* connection.acquireLong
      let finished = false
      let paused = false
      let pending: Array<A> = []
      let afterDrain: (() => void) | undefined
      const call = start(slot, connection.metadata(options), { deadline: connection.deadline(options, "read") })
      const resumeWhenRoom = () => {
        const batch = pending
        pending = []
        Effect.runFork(
          Effect.andThen(
            Queue.offerAll(queue, batch),
            Effect.sync(() => {
              if (pending.length > 0) return resumeWhenRoom()
              paused = false
              const then = afterDrain
              afterDrain = undefined
              if (then !== undefined) then()
              else if (!finished) call.resume()
            })
          )
        )
      }
      const emit: Emit<A> = {
        push: (item) => {
          if (finished) return
          if (paused) {
            pending.push(item)
            return
          }
          if (!Queue.offerUnsafe(queue, item)) {
            paused = true
            call.pause()
            pending.push(item)
            resumeWhenRoom()
          }
        },
        end: () => {
          if (finished) return
          finished = true
          call.cancel()
          endAfterPending()
        },
        fail: (error) => {
          if (finished) return
          finished = true
          call.cancel()
          failAfterPending(error)
        }
      }
      // the end (or failure) goes into the queue after the items still waiting for room
      const whenDrained = (f: () => void) => {
        if (paused) afterDrain = f
        else f()
      }
      const endAfterPending = () => whenDrained(() => Queue.endUnsafe(queue))
      const failAfterPending = (error: EsdbError) => whenDrained(() => Queue.failCauseUnsafe(queue, Cause.fail(error)))
      call.on("data", (message: M) => {
        try {
          handle(message, emit)
        } catch (cause) {
          emit.fail(connection.fail(slot, cause, context))
        }
      })
      call.on("error", (error: grpc.ServiceError) => {
        if (finished) return
        finished = true
        failAfterPending(connection.fail(slot, error, context))
      })
      call.on("end", () => {
        if (finished) return
        finished = true
        endAfterPending()
      })
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (!finished) {
            finished = true
            call.cancel()
          }
        })
      )
    }), { bufferSize })

/**
 * True for the failures after which a read or subscription is started again: the node could not
 * be reached or discovered, the connection dropped mid-call, or the node is not the leader. Unlike writes,
 * reads change nothing on the node, so a call that may have been executed is safe to repeat
 * (the cursor makes sure nothing is delivered twice).
 *
 * @internal
 */
export const canResume = (error: CallError): boolean =>
  error._tag === "ServiceUnavailable" || error._tag === "NodeIsNotLeader" || error._tag === "DiscoveryFailed"

/**
 * Makes a stream resume after connection failures (see {@link canResume}): `make` is called again (it reads its own
 * cursor, so it continues right after the last delivered item: no gap, no duplicate), following
 * the connection's retry schedule; the schedule starts afresh once an attempt delivered an item.
 *
 * @internal
 */
export const resumable = <A, E extends CallError>(
  connection: Connection,
  make: () => Stream.Stream<A, E>
): Stream.Stream<A, E> => {
  const schedule = connection.retrySchedule.pipe(Schedule.while(({ input }) => canResume(input)))
  const loop = (): Stream.Stream<A, E> => {
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
      Stream.retry(schedule as Schedule.Schedule<unknown, E>),
      Stream.catch((error: E) => (progressed && canResume(error) ? loop() : Stream.fail(error)))
    )
  }
  return loop()
}
