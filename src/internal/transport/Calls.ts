/**
 * The call adapters: grpc-js calls as Effects and Streams, on the connections of the pool. Each
 * call is held in a scope: single-reply calls and server streams in the transport's (closing it
 * cancels them), duplex calls in their connection's (closing it ends them). A failure is
 * classified, and replaces the connection when it calls for it. grpc-js callbacks re-enter Effect
 * with the context captured when the call started.
 *
 * @internal
 */
import type * as grpc from "@grpc/grpc-js"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { DeadlineExceeded } from "../../errors/DeadlineExceeded.ts"
import { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import type { ConnectionSettings } from "../ConnectionString.ts"
import type { CallError } from "./CallError.ts"
import { callMetadata } from "./ChannelConfig.ts"
import type { ChannelPool, Slot } from "./ChannelPool.ts"
import { openChannelDuplex } from "./ChannelDuplex.ts"
import { type ClassifyContext, classifyError } from "./classifyError.ts"
import { deadlineAt, timeoutMillis, toGrpcDeadline } from "./Deadline.ts"
import { StatusCode } from "./grpcStatus.ts"
import type { CallOptions } from "./Options.ts"
import { needsReconnect, settle } from "./Retry.ts"
import { type Emit, serverStream } from "./ServerStream.ts"

/**
 * A gRPC method: its path and the codecs of its messages (grpc-js adds the length prefix).
 *
 * @internal
 */
export interface Method<I, O> {
  readonly path: string
  readonly requestSerialize: (value: I) => Buffer
  readonly responseDeserialize: (bytes: Buffer) => O
}

/**
 * What one attempt of an operation needs besides its request: the caller's options, whether the
 * operation reads or writes, the stream it concerns (used to name it in errors), and the
 * operation's deadline (an instant of the Clock, Infinity for none), computed once when the
 * operation started: every attempt gets what is left of it.
 *
 * @internal
 */
export interface CallSpec {
  readonly options?: CallOptions | undefined
  readonly kind: "write" | "read"
  readonly context?: ClassifyContext | undefined
  readonly deadline: number
}

/**
 * A duplex call held open: `write` hands a message to grpc-js, which sends it in order and calls
 * `written` once its HTTP/2 stream took the message (until then grpc-js buffers it, however
 * long: flow control); `end` half-closes, and calls `done` once every message written before was
 * taken by the HTTP/2 stream.
 *
 * @internal
 */
export interface DuplexCall<I> {
  readonly write: (message: I, written?: () => void) => void
  readonly end: (done?: () => void) => void
  /** Stops reading replies (HTTP/2 flow control then holds the node back) until `resume`. */
  readonly pause: () => void
  readonly resume: () => void
}

/**
 * The adapters.
 *
 * @internal
 */
export interface Calls {
  readonly unary: <I, O>(method: Method<I, O>, request: I, spec: CallSpec) => Effect.Effect<O, CallError>
  readonly clientStream: <I, O>(method: Method<I, O>, requests: ReadonlyArray<I>, spec: CallSpec) => Effect.Effect<O, CallError>
  readonly serverStream: <I, M, A>(
    method: Method<I, M>,
    request: I,
    spec: CallSpec,
    handle: (message: M, emit: Emit<A>) => void
  ) => Stream.Stream<A, CallError>
  readonly duplex: <I, O>(
    method: Method<I, O>,
    handlers: { readonly onMessage: (message: O) => void; readonly onEnd: (error: CallError) => void },
    options?: { readonly spread?: boolean | undefined; readonly callOptions?: CallOptions | undefined }
  ) => Effect.Effect<DuplexCall<I>, CallError, Scope.Scope>
}

/** A running grpc-js call. */
interface Running {
  cancel(): void
}

const replaced = () => new ServiceUnavailable({ reason: "The connection was replaced" })

/**
 * Makes the adapters on a pool; `scope` is the transport's.
 *
 * @internal
 */
export const make = (settings: ConnectionSettings, pool: ChannelPool, scope: Scope.Scope): Calls => {
  // Classifies a failure of a call on `slot` (ConnectionClosed once the transport is closed)
  // and, when the failure calls for it, drops the slot's connection; `runFork` runs with the
  // context of the caller whose call failed.
  const classify = (
    slot: Slot,
    failure: unknown,
    context: ClassifyContext | undefined,
    runFork: (effect: Effect.Effect<void>) => unknown
  ): CallError => {
    if (pool.isClosed()) return pool.closedError()
    const error = settle(settings, classifyError(failure, context))
    if (needsReconnect(error)) runFork(pool.invalidate(slot, error))
    return error
  }

  const metadata = (options: CallOptions | undefined): grpc.Metadata =>
    callMetadata(settings, {
      requiresLeader: options?.requiresLeader ?? settings.nodePreference === "leader",
      credentials: options?.credentials
    })

  // holds a call in the transport's scope: closing it cancels the call; closing the returned
  // scope (once the call is over) lets go of it
  const hold = (running: { call: Running | undefined }): Effect.Effect<Scope.Closeable> =>
    Effect.flatMap(Scope.fork(scope), (held) =>
      Effect.as(
        Scope.addFinalizer(held, Effect.sync(() => running.call?.cancel())),
        held
      ))
  const letGo = (held: Scope.Closeable) => {
    Scope.closeUnsafe(held, Exit.void)
  }

  // a place for a long-lived call; one with a deadline waits for it (all places taken) only
  // until the deadline
  const placeWithin = (deadline: number): Effect.Effect<Slot, CallError, Scope.Scope> =>
    deadline === Infinity ? pool.acquireLong : Effect.clockWith((clock) =>
      pool.acquireLong.pipe(Effect.timeoutOrElse({
        duration: Duration.millis(Math.max(0, deadline - clock.currentTimeMillisUnsafe())),
        orElse: () =>
          Effect.fail(new DeadlineExceeded({ reason: "The deadline passed while waiting for a connection (maxConnections)" }))
      })))

  // the connection of a call with one reply: when there is none (a discovery, a connect), the
  // wait for it ends at the call's deadline (the discovery goes on for the calls after it)
  const primaryWithin = (deadline: number): Effect.Effect<Slot, CallError> =>
    Effect.suspend(() => {
      const slot = pool.connected()
      if (slot !== undefined) return Effect.succeed(slot)
      if (deadline === Infinity) return pool.primary
      return Effect.clockWith((clock) =>
        pool.primary.pipe(Effect.timeoutOrElse({
          duration: Duration.millis(Math.max(0, deadline - clock.currentTimeMillisUnsafe())),
          orElse: () =>
            Effect.fail(new DeadlineExceeded({ reason: "The deadline passed while looking for a node to connect to (discovery)" }))
        }))
      )
    })

  // a call with one reply: `start` invokes grpc-js, whose callback resumes the fiber
  const singleReply = <O>(
    spec: CallSpec,
    start: (slot: Slot, metadata: grpc.Metadata, callOptions: grpc.CallOptions, callback: grpc.requestCallback<O>) => Running
  ): Effect.Effect<O, CallError> =>
    Effect.flatMap(primaryWithin(spec.deadline), (slot) =>
      Effect.clockWith((clock) =>
        Effect.contextWith((context: Context.Context<never>) => {
          const runFork = Effect.runForkWith(context)
          const running: { call: Running | undefined } = { call: undefined }
          return Effect.flatMap(hold(running), (held) =>
            Effect.callback<O, CallError>((resume) => {
              try {
                const deadline = toGrpcDeadline(spec.deadline, clock.currentTimeMillisUnsafe())
                running.call = start(slot, metadata(spec.options), { deadline }, (error, response) => {
                  letGo(held)
                  resume(
                    error !== null || response === undefined
                      ? Effect.fail(classify(slot, error, spec.context, runFork))
                      : Effect.succeed(response)
                  )
                })
              } catch (cause) {
                letGo(held)
                resume(Effect.fail(classify(slot, cause, spec.context, runFork)))
              }
              return Effect.sync(() => {
                letGo(held)
                running.call?.cancel()
              })
            }))
        })
      ))

  const unary: Calls["unary"] = (method, request, spec) =>
    singleReply(spec, (slot, md, callOptions, callback) =>
      slot.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        md,
        callOptions,
        callback
      ))

  const clientStream: Calls["clientStream"] = (method, requests, spec) =>
    singleReply(spec, (slot, md, callOptions, callback) => {
      const call = slot.client.makeClientStreamRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        md,
        callOptions,
        callback
      )
      // the callback reports the failure
      call.on("error", () => {})
      for (const request of requests) call.write(request)
      call.end()
      return call
    })

  const serverStreamOf: Calls["serverStream"] = (method, request, spec, handle) =>
    Stream.unwrap(Effect.contextWith((context: Context.Context<never>) => {
      const runFork = Effect.runForkWith(context)
      let slot: Slot | undefined
      return Effect.succeed(serverStream(
        {
          start: (listener) =>
            Effect.gen(function*() {
              const acquired = yield* placeWithin(spec.deadline)
              slot = acquired
              const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
              const running: { call: Running | undefined } = { call: undefined }
              const held = yield* hold(running)
              // on the channel's call API (ChannelDuplex.ts): the request, the half-close, then
              // the replies, without a Node stream per message
              const call = openChannelDuplex(
                acquired.channel,
                method,
                metadata(spec.options),
                toGrpcDeadline(spec.deadline, now),
                listener
              )
              call.write(request)
              call.end()
              running.call = call
              yield* Effect.addFinalizer(() => Effect.sync(() => letGo(held)))
              return call
            }),
          classify: (failure) => classify(slot!, failure, spec.context, runFork)
        },
        handle
      ))
    }))

  const duplex: Calls["duplex"] = (method, handlers, options) =>
    Effect.gen(function*() {
      const slot = yield* (options?.spread === true ? pool.acquireLong : pool.primary)
      const runFork = Effect.runForkWith(yield* Effect.context<never>())
      const callOptions = options?.callOptions
      // long-lived: no deadline unless the caller gave a timeout
      const deadline = callOptions?.timeout === undefined ? Infinity : yield* Effect.clockWith((clock) => {
        const now = clock.currentTimeMillisUnsafe()
        return Effect.succeed(toGrpcDeadline(deadlineAt(now, timeoutMillis(settings.defaultDeadline, callOptions, "stream")), now))
      })
      let ended = false
      // the call is held in its connection's scope: closing the connection ends it
      const held = Scope.forkUnsafe(slot.scope)
      // `reason` is computed after the call is marked ended: classifying may replace the
      // connection, which ends the calls it holds
      const end = (reason: () => CallError) => {
        if (ended) return
        ended = true
        letGo(held)
        handlers.onEnd(reason())
      }
      // on the channel's call API, without a Node stream between grpc-js and the handlers
      // (ChannelDuplex.ts): the persistent consumer's hot path
      const call = openChannelDuplex(slot.channel, method, metadata(callOptions), deadline, {
        onMessage: (message) => {
          if (!ended) handlers.onMessage(message)
        },
        // a call the node ended without an error is ended here too; an error is classified
        onEnd: (failure) =>
          failure === undefined
            ? end(() => new ServiceUnavailable({ reason: "The call was ended by the node" }))
            : end(() => classify(slot, failure, undefined, runFork))
      })
      // ended with the connection's reason (replaced, or closed with the transport); at once
      // when the connection is already closed
      yield* Scope.addFinalizer(
        held,
        Effect.sync(() => {
          end(() => slot.reason ?? replaced())
          call.cancel()
        })
      )
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (ended) return
          end(() => pool.isClosed() ? pool.closedError() : new ServiceUnavailable({ reason: "The call's scope was closed" }))
          call.cancel()
        })
      )
      return { write: call.write, end: call.end, pause: call.pause, resume: call.resume }
    })

  return { unary, clientStream, serverStream: serverStreamOf, duplex }
}
