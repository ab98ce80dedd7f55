/**
 * The one transport every service is written against, on grpc-js. It alone owns the channels,
 * the credentials, per-call headers and deadlines, error classification, leader redirect, the
 * retry `Schedule` and spans. Services hand it a {@link Method} (a path and the message codecs)
 * and a request, and get Effects and Streams of domain values back: no grpc-js type crosses it.
 *
 * - {@link Transport.unary}, {@link Transport.clientStream}: one reply; interruption cancels.
 * - {@link Transport.serverStream}: a pull-based Stream; closing its scope cancels the call.
 * - {@link Transport.duplex}: a call held open in a scope (BatchAppend).
 *
 * When the scope that made the transport closes, every running call is cancelled and fails with
 * `ConnectionClosed`, and so does every later call, at once.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js"
import * as net from "node:net"
import * as tls from "node:tls"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { ConnectionClosed } from "../../errors/ConnectionClosed.ts"
import { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import { TlsFailed } from "../../errors/TlsFailed.ts"
import type { DiscoveryFailed } from "../../errors/DiscoveryFailed.ts"
import type { InvalidConnectionString } from "../../errors/InvalidConnectionString.ts"
import { type ConnectionSettings, type Endpoint, parseConnectionString } from "../ConnectionString.ts"
import type { CallError } from "./CallError.ts"
import { callMetadata, channelOptions, transportSecurity } from "./ChannelConfig.ts"
import { type ClassifyContext, classifyError, isConnectFailure } from "./classifyError.ts"
import { StatusCode } from "./grpcStatus.ts"
import { discover, readGossipOverGrpc } from "./Discovery.ts"
import {
  type CallOptions,
  type ConnectionOptions,
  defaultResumeSchedule,
  defaultRetrySchedule,
  type ResumeFailure
} from "./Options.ts"
import { observed } from "./Recovery.ts"
import { isRetryable, needsReconnect } from "./Retry.ts"
import { type Emit, resumeStream, serverStream } from "./ServerStream.ts"

export type { Emit } from "./ServerStream.ts"

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
 * What a call needs besides its request: the caller's options, whether it is a write (which has
 * a default deadline) or a read, and the stream it concerns (used to name it in errors).
 *
 * @internal
 */
export interface CallSpec {
  readonly options?: CallOptions | undefined
  readonly kind: "write" | "read"
  readonly context?: ClassifyContext | undefined
  /**
   * The absolute deadline of the operation the call belongs to (epoch milliseconds, Infinity for
   * none), from {@link TransportShape.deadline}: every attempt of a retried operation gets what
   * is left of it. Computed from `options` at the call when absent.
   */
  readonly deadline?: number | undefined
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
 * How {@link TransportShape.resumable} resumes: the operation's name (for the log and the metric),
 * whether the Stream never ends by itself (subscriptions), a Schedule replacing the
 * connection's `resumeSchedule`, and attributes for the log and the metric.
 *
 * @internal
 */
export interface ResumeOptions {
  readonly operation: string
  readonly endless?: boolean | undefined
  readonly schedule?: Schedule.Schedule<unknown, ResumeFailure> | undefined
  readonly attributes?: Readonly<Record<string, string>> | undefined
}

/**
 * Failures of {@link TransportShape.reconnect}.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReconnectError = DiscoveryFailed | ConnectionClosed | ServiceUnavailable

/**
 * The transport service.
 *
 * @internal
 */
export interface TransportShape {
  readonly settings: ConnectionSettings
  readonly unary: <I, O>(method: Method<I, O>, request: I, spec: CallSpec) => Effect.Effect<O, CallError>
  readonly clientStream: <I, O>(
    method: Method<I, O>,
    requests: ReadonlyArray<I>,
    spec: CallSpec
  ) => Effect.Effect<O, CallError>
  readonly serverStream: <I, M, A>(
    method: Method<I, M>,
    request: I,
    spec: CallSpec,
    handle: (message: M, emit: Emit<A>) => void
  ) => Stream.Stream<A, CallError>
  /**
   * Opens a duplex call with the connection's own headers, or with `callOptions`' credentials and
   * `requiresLeader` when given; no deadline (it is long-lived) unless `callOptions` has a
   * `timeout`, which then bounds the call. It goes on the primary connection, or with `spread` on a
   * connection with room among those holding the long-lived calls (one per consumer, like a
   * subscription: counted against `streamsPerChannel`, so hundreds spread over connections). It
   * ends when the scope closes, the connection is replaced, or the transport closes; `onEnd` then
   * gets the reason.
   */
  readonly duplex: <I, O>(
    method: Method<I, O>,
    handlers: { readonly onMessage: (message: O) => void; readonly onEnd: (error: CallError) => void },
    options?: { readonly spread?: boolean | undefined; readonly callOptions?: CallOptions | undefined }
  ) => Effect.Effect<DuplexCall<I>, CallError, Scope.Scope>
  /**
   * Runs `effect` again under the retry `Schedule` while its failure is retryable, each retry
   * logged and counted under `operation` (Recovery.ts; "call" when not named). A failure to
   * connect is diagnosed first: `tls=false` against a node that speaks TLS is a TlsFailed. With a
   * `deadline` (epoch milliseconds, from {@link TransportShape.deadline}), no attempt starts after
   * it: when the Schedule's next delay would reach it, the last failure is the result.
   */
  readonly retry: <A, E extends CallError, R>(
    effect: Effect.Effect<A, E, R>,
    deadline?: number,
    operation?: string
  ) => Effect.Effect<A, E | TlsFailed, R>
  /**
   * Makes a read or subscription resume after the failures `canResume` (Retry.ts) accepts: `make`
   * is called again (it reads its own cursor, which the caller creates per run), following the
   * call's own Schedule, else the connection's `resumeSchedule` for subscriptions (`endless`) and
   * its `retrySchedule` for reads; the Schedule starts afresh once an attempt delivered
   * something. With `endless` (subscriptions) a call the node ends (status OK) is resumed too:
   * only the consumer or a failure that cannot be resumed ends the Stream. With a `deadline` (a
   * read with a timeout), no attempt starts after it; without one it resumes as long as the
   * Schedule says. Every resume is logged and counted (Recovery.ts).
   */
  readonly resumable: <A, E extends CallError>(
    make: () => Stream.Stream<A, E>,
    deadline?: number,
    resume?: ResumeOptions
  ) => Stream.Stream<A, E | TlsFailed | ServiceUnavailable>
  /**
   * The connection's resume policy (`resumeSchedule`, default forever): catch-up subscriptions
   * and persistent-subscription consumers go on under it.
   */
  readonly resumeSchedule: Schedule.Schedule<unknown, ResumeFailure>
  /** The per-call timeout in milliseconds (writes default to DefaultDeadline, reads to none: Infinity). */
  readonly timeoutMillis: (options: CallOptions | undefined, kind: "write" | "read") => number
  /**
   * The absolute deadline of an operation starting now (epoch milliseconds; Infinity for none):
   * computed once per run of an operation, it bounds all its attempts.
   */
  readonly deadline: (options: CallOptions | undefined, kind: "write" | "read") => number
  /**
   * Closes the current connection and connects again (rediscovering the node for cluster
   * strings), waiting until connected. Fibers asking while a reconnect runs share it: one
   * reconnect however many ask at once.
   */
  readonly reconnect: Effect.Effect<void, ReconnectError>
  /** How many connections were opened so far (1 after the first call, +1 per reconnect). */
  readonly generation: () => number
  /** Whether the scope that made the transport has closed. */
  readonly isClosed: () => boolean
  /**
   * A client span around an effect (none when tracing is off or no tracer is installed).
   * `attributes` may be a function: it is then called only when a span is made.
   */
  readonly traceEffect: (
    name: string,
    attributes?: Record<string, unknown> | (() => Record<string, unknown>)
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** A client span around a stream. */
  readonly traceStream: (
    name: string,
    attributes?: Record<string, unknown>
  ) => <A, E, R>(stream: Stream.Stream<A, E, R>) => Stream.Stream<A, E, R>
}

/**
 * The transport service: one per connection, provided by `EventStoreDB.layer`.
 *
 * @since 0.1.0
 * @category services
 */
export class Transport extends Context.Service<Transport, TransportShape>()("effect-esdb/internal/Transport") {}

/** One HTTP/2 connection (a grpc-js channel with its own subchannel pool). */
interface Slot {
  readonly endpoint: Endpoint
  readonly channel: grpc.Channel
  readonly client: grpc.Client
  readonly generation: number
  active: number
  closed: boolean
  /** Duplex calls owned by the slot: ended (with the reason) when it is closed. */
  readonly owned: Set<(reason: CallError) => void>
}

/** A running call, cancelled when the transport closes. */
interface Running {
  cancel(): void
}

const replaced = () => new ServiceUnavailable({ reason: "The connection was replaced" })

// capped at about a year: longer deadlines overflow grpc-js timers
const MAX_DEADLINE_MS = 31_536_000_000

/**
 * Makes a transport. No I/O happens until the first call (then discovery, for cluster strings).
 *
 * @internal
 */
export const make = (
  options: ConnectionOptions
): Effect.Effect<TransportShape, InvalidConnectionString, Scope.Scope> =>
  Effect.gen(function*() {
    const raw = Redacted.isRedacted(options.connectionString)
      ? Redacted.value(options.connectionString)
      : options.connectionString
    const parsed = parseConnectionString(raw)
    if (Result.isFailure(parsed)) return yield* parsed.failure
    // the connection's name: the connection string's, else a new UUID per connection (the
    // parser is pure: the same string always parses to the same value)
    const settings = { ...parsed.success, connectionName: parsed.success.connectionName ?? crypto.randomUUID() }
    for (const warning of settings.warnings) yield* Effect.logWarning(`effect-esdb: ${warning}`)
    const { credentials } = yield* transportSecurity(settings, {
      rootCertificates: options.rootCertificates,
      privateKey: options.privateKey,
      certChain: options.certChain
    })
    const baseOptions = channelOptions(settings, options.flowControlWindow, options.maxReceiveMessageSize)
    // under half of the 100 streams servers allow per connection, see Options.ts
    const streamsPerChannel = options.streamsPerChannel ?? 40
    const retrySchedule = options.retrySchedule ?? defaultRetrySchedule
    const resumeSchedule = options.resumeSchedule ?? defaultResumeSchedule
    const lock = yield* Semaphore.make(1)
    const tracing = options.tracing ?? true
    const spanAttributes: Readonly<Record<string, unknown>> = {
      "db.system.name": "eventstoredb",
      "server.address": settings.hosts[0]?.host,
      "server.port": settings.hosts[0]?.port,
      ...options.spanAttributes
    }

    let closed = false
    let generation = 0
    let slots: Array<Slot> = []
    let leaderHint: Endpoint | undefined
    let failedEndpoint: Endpoint | undefined
    let lastEndpoint: Endpoint | undefined
    const running = new Set<Running>()

    const closedError = () => new ConnectionClosed({ reason: "The connection was closed: the scope of its layer has ended" })

    // Every channel gets its own subchannel pool, hence its own HTTP/2 connection: extra channels
    // must not share the primary's connection (that is their point), and grpc-js's global pool
    // would keep a closed client's connection open for up to 20 seconds (and share it between
    // clients).
    const openSlot = (endpoint: Endpoint): Slot => {
      const target = endpoint.host.includes(":") && !endpoint.host.startsWith("[")
        ? `[${endpoint.host}]:${endpoint.port}`
        : `${endpoint.host}:${endpoint.port}`
      const channel = new grpc.Channel(target, credentials, { ...baseOptions, "grpc.use_local_subchannel_pool": 1 })
      return {
        endpoint,
        channel,
        client: new grpc.Client(target, credentials, { channelOverride: channel }),
        generation,
        active: 0,
        closed: false,
        owned: new Set()
      }
    }

    // Calls still running on a replaced channel finish there (grpc-js keeps the connection until
    // its last call ends); the duplex calls the slot owns are ended here.
    const closeSlots = (reason: CallError) => {
      for (const slot of slots) {
        slot.closed = true
        for (const end of Array.from(slot.owned)) end(reason)
        slot.owned.clear()
        slot.client.close()
        slot.channel.close()
      }
      slots = []
    }

    const resolveEndpoint: Effect.Effect<Endpoint, DiscoveryFailed> = Effect.suspend(() => {
      if (leaderHint !== undefined) {
        const hint = leaderHint
        leaderHint = undefined
        return Effect.succeed(hint)
      }
      if (!settings.discover) return Effect.succeed(settings.hosts[0]!)
      return discover({
        seeds: settings.hosts,
        preference: settings.nodePreference,
        maxDiscoverAttempts: settings.maxDiscoverAttempts,
        discoveryInterval: Duration.millis(settings.discoveryInterval),
        failedEndpoint,
        readGossip: (seed) => readGossipOverGrpc(seed, credentials, baseOptions, settings.gossipTimeout)
      })
    })

    // under the lock
    const openPrimary: Effect.Effect<Slot, DiscoveryFailed | ConnectionClosed> = Effect.flatMap(
      resolveEndpoint,
      (endpoint) => {
        if (closed) return Effect.fail(closedError())
        generation++
        lastEndpoint = endpoint
        const slot = openSlot(endpoint)
        slots = [slot]
        return Effect.succeed(slot)
      }
    )

    const connect: Effect.Effect<Slot, DiscoveryFailed | ConnectionClosed> = lock.withPermits(1)(
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError())
        const current = slots[0]
        return current !== undefined ? Effect.succeed(current) : openPrimary
      })
    )

    // every call starts here: the common case (connected) takes no lock
    const primary: Effect.Effect<Slot, DiscoveryFailed | ConnectionClosed> = Effect.suspend(() => {
      if (closed) return Effect.fail(closedError())
      const current = slots[0]
      return current !== undefined && !current.closed ? Effect.succeed(current) : connect
    })

    const acquireLong: Effect.Effect<Slot, DiscoveryFailed | ConnectionClosed, Scope.Scope> = Effect.acquireRelease(
      Effect.flatMap(primary, (first) =>
        lock.withPermits(1)(Effect.suspend(() => {
          if (closed) return Effect.fail(closedError())
          let slot = slots.find((s) => s.active < streamsPerChannel && s.generation === first.generation)
          if (slot === undefined) {
            slot = openSlot(first.endpoint)
            slots.push(slot)
          }
          slot.active++
          return Effect.succeed(slot)
        }))),
      (slot) =>
        Effect.sync(() => {
          slot.active--
        })
    )

    // Drops the slot's connection after a failure so the next call reconnects (to the leader,
    // when the failure named it).
    const invalidate = (slot: Slot, error: CallError): Effect.Effect<void> =>
      lock.withPermits(1)(Effect.sync(() => {
        if (closed || slot.closed || slot.generation !== generation) return
        if (error._tag === "NodeIsNotLeader" && error.leader !== undefined) {
          leaderHint = { host: error.leader.host, port: error.leader.port }
        } else {
          failedEndpoint = slot.endpoint
        }
        closeSlots(replaced())
      }))

    // Classifies a failure of a call on `slot` (ConnectionClosed once the transport is closed)
    // and, when the failure calls for it, drops the slot's connection; `runFork` runs with the
    // context of the caller whose call failed.
    const classify = (
      slot: Slot,
      failure: unknown,
      context: ClassifyContext | undefined,
      runFork: (effect: Effect.Effect<void>) => unknown
    ): CallError => {
      if (closed) return closedError()
      const error = classifyError(failure, context)
      if (needsReconnect(error)) runFork(invalidate(slot, error))
      return error
    }

    const timeoutMillis = (callOptions: CallOptions | undefined, kind: "write" | "read"): number => {
      if (callOptions?.timeout !== undefined) {
        return Math.max(0, Duration.toMillis(Duration.fromInputUnsafe(callOptions.timeout)))
      }
      return kind === "write" ? Math.min(settings.defaultDeadline ?? 10_000, MAX_DEADLINE_MS) : Infinity
    }

    const deadline = (callOptions: CallOptions | undefined, kind: "write" | "read"): number => {
      const ms = timeoutMillis(callOptions, kind)
      return ms === Infinity ? Infinity : Date.now() + Math.min(ms, MAX_DEADLINE_MS)
    }

    const grpcOptions = (spec: CallSpec): grpc.CallOptions => ({
      deadline: spec.deadline ?? deadline(spec.options, spec.kind)
    })

    const metadata = (callOptions: CallOptions | undefined): grpc.Metadata =>
      callMetadata(settings, {
        requiresLeader: callOptions?.requiresLeader ?? settings.nodePreference === "leader",
        credentials: callOptions?.credentials
      })

    // a call with one reply: `start` invokes grpc-js, whose callback resumes the fiber
    const singleReply = <O>(
      spec: CallSpec,
      start: (slot: Slot, metadata: grpc.Metadata, callOptions: grpc.CallOptions, callback: grpc.requestCallback<O>) => Running
    ): Effect.Effect<O, CallError> =>
      Effect.flatMap(primary, (slot) =>
        Effect.contextWith((context: Context.Context<never>) => {
          const runFork = Effect.runForkWith(context)
          return Effect.callback<O, CallError>((resume) => {
            let call: Running | undefined
            const done = () => {
              if (call !== undefined) running.delete(call)
            }
            try {
              call = start(slot, metadata(spec.options), grpcOptions(spec), (error, response) => {
                done()
                resume(
                  error !== null || response === undefined
                    ? Effect.fail(classify(slot, error, spec.context, runFork))
                    : Effect.succeed(response)
                )
              })
              running.add(call)
            } catch (cause) {
              resume(Effect.fail(classify(slot, cause, spec.context, runFork)))
            }
            return Effect.sync(() => {
              done()
              call?.cancel()
            })
          })
        }))

    const unary: TransportShape["unary"] = (method, request, spec) =>
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

    const clientStream: TransportShape["clientStream"] = (method, requests, spec) =>
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

    const serverStreamOf: TransportShape["serverStream"] = (method, request, spec, handle) =>
      Stream.unwrap(Effect.contextWith((context: Context.Context<never>) => {
        const runFork = Effect.runForkWith(context)
        let slot: Slot | undefined
        return Effect.succeed(serverStream(
          {
            start: Effect.gen(function*() {
              const acquired = yield* acquireLong
              slot = acquired
              const call = acquired.client.makeServerStreamRequest(
                method.path,
                method.requestSerialize,
                method.responseDeserialize,
                request,
                metadata(spec.options),
                grpcOptions(spec)
              )
              running.add(call)
              yield* Effect.addFinalizer(() => Effect.sync(() => running.delete(call)))
              return call
            }),
            classify: (failure) => classify(slot!, failure, spec.context, runFork)
          },
          handle
        ))
      }))

    const duplex: TransportShape["duplex"] = (method, handlers, options) =>
      Effect.gen(function*() {
        const slot = yield* (options?.spread === true ? acquireLong : primary)
        const runFork = Effect.runForkWith(yield* Effect.context<never>())
        let ended = false
        const call = slot.client.makeBidiStreamRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          metadata(options?.callOptions),
          options?.callOptions?.timeout === undefined ? {} : { deadline: deadline(options.callOptions, "read") }
        )
        // `reason` is computed after the call is marked ended: classifying may replace the
        // connection, which ends the calls it owns
        const end = (reason: () => CallError) => {
          if (ended) return
          ended = true
          running.delete(call)
          slot.owned.delete(endWith)
          handlers.onEnd(reason())
        }
        // the slot ends the call with its own reason (replaced, or closed with the transport)
        const endWith = (reason: CallError) => {
          end(() => reason)
          call.cancel()
        }
        call.on("data", (message) => {
          if (!ended) handlers.onMessage(message)
        })
        call.on("error", (failure: unknown) => end(() => classify(slot, failure, undefined, runFork)))
        // a call the node ended without an error ("error" reports the others)
        call.on("status", (status: grpc.StatusObject) => {
          if (status.code === StatusCode.OK) end(() => new ServiceUnavailable({ reason: "The call was ended by the node" }))
        })
        if (slot.closed) endWith(replaced())
        else slot.owned.add(endWith)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (ended) return
            end(() => closed ? closedError() : new ServiceUnavailable({ reason: "The call's scope was closed" }))
            call.cancel()
          })
        )
        return {
          write: (message, written) => {
            call.write(message, written)
          },
          end: (done) => {
            // a Writable's "finish" comes once every write's callback has run: grpc-js runs a
            // write's callback when its HTTP/2 stream took the message (a call that fails first
            // never finishes: its "error" or "status" ends it)
            if (done !== undefined) call.once("finish", done)
            call.end()
          },
          pause: () => call.pause(),
          resume: () => call.resume()
        }
      })

    // A connection that could not be made over plain text may be one to a node that speaks TLS:
    // grpc-js only says "Failed to connect". A TLS handshake with the endpoint tells.
    const speaksTls = (endpoint: Endpoint): Effect.Effect<boolean> =>
      Effect.callback<boolean>((resume) => {
        const socket = tls.connect({
          host: endpoint.host,
          port: endpoint.port,
          rejectUnauthorized: false,
          ALPNProtocols: ["h2"],
          ...(net.isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {})
        })
        const finish = (result: boolean) => {
          clearTimeout(timer)
          socket.destroy()
          resume(Effect.succeed(result))
        }
        const timer = setTimeout(() => finish(false), 1000)
        socket.once("secureConnect", () => finish(true))
        socket.once("error", () => finish(false))
        return Effect.sync(() => {
          clearTimeout(timer)
          socket.destroy()
        })
      })
    const connectFailed = (error: CallError): boolean => !settings.tls && isConnectFailure(error)
    const diagnose = <E extends CallError>(error: E): Effect.Effect<E | TlsFailed> => {
      const endpoint = lastEndpoint
      if (endpoint === undefined || !connectFailed(error)) return Effect.succeed(error)
      return Effect.map(speaksTls(endpoint), (isTls): E | TlsFailed =>
        isTls
          ? new TlsFailed({
            reason: `${endpoint.host}:${endpoint.port} speaks TLS but the connection string says tls=false: ` +
              `use tls=true (with TlsCaFile=<path> for a node whose CA is not trusted by the system)`,
            cause: error
          })
          : error)
    }

    // The retry machinery is set up only after a first retryable failure (it costs a few µs per
    // call otherwise); that failure is replayed into it, so the schedule sees the same sequence.
    const retry = <A, E extends CallError, R>(
      effect: Effect.Effect<A, E, R>,
      until?: number,
      operation?: string
    ): Effect.Effect<A, E | TlsFailed, R> =>
      Effect.catchIf(effect, (error: E) => isRetryable(error), (first: E) =>
        Effect.flatMap(diagnose(first), (diagnosed) => {
          if (diagnosed._tag === "TlsFailed") return Effect.fail(diagnosed)
          let replay: E | undefined = first
          const again = Effect.suspend(() => {
            if (replay === undefined) return effect
            const error = replay
            replay = undefined
            return Effect.fail(error)
          })
          return Effect.retry(again, {
            schedule: observed(retrySchedule, {
              operation: operation ?? "call",
              action: "retry",
              allow: isRetryable,
              until
            })
          })
        }))

    const resumable = <A, E extends CallError>(
      make: () => Stream.Stream<A, E>,
      until?: number,
      resume?: ResumeOptions
    ): Stream.Stream<A, E | TlsFailed | ServiceUnavailable> =>
      resumeStream(make, {
        operation: resume?.operation ?? "read",
        endless: resume?.endless === true,
        // subscriptions go on under the resume policy (forever by default); a finite read is a
        // single call that may take long: its attempts follow the bounded retry policy, which
        // starts afresh each time the read made progress
        schedule: resume?.schedule ?? (resume?.endless === true ? resumeSchedule : retrySchedule),
        until,
        attributes: resume?.attributes,
        diagnose
      })

    // Waits until the slot's channel has connected (or failed to), starting the connection.
    const whenConnected = (slot: Slot): Effect.Effect<void, ServiceUnavailable> =>
      Effect.callback<void, ServiceUnavailable>((resume) => {
        const deadline = Date.now() + Math.min(settings.defaultDeadline ?? 10_000, MAX_DEADLINE_MS)
        const check = () => {
          const state = slot.channel.getConnectivityState(true)
          if (state === grpc.connectivityState.READY) return resume(Effect.void)
          if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) {
            return resume(Effect.fail(new ServiceUnavailable({ reason: `Could not connect to ${slot.endpoint.host}:${slot.endpoint.port}` })))
          }
          slot.channel.watchConnectivityState(state, deadline, (error) => {
            if (error === undefined) return check()
            resume(Effect.fail(new ServiceUnavailable({ reason: `Could not connect to ${slot.endpoint.host}:${slot.endpoint.port} in time` })))
          })
        }
        check()
      })

    // One reconnect at a time: fibers asking while one runs wait for it and share its result.
    let reconnecting: Deferred.Deferred<void, ReconnectError> | undefined
    const reconnect: TransportShape["reconnect"] = Effect.suspend(() => {
      if (closed) return Effect.fail(closedError())
      if (reconnecting !== undefined) return Deferred.await(reconnecting)
      const done = Deferred.makeUnsafe<void, ReconnectError>()
      reconnecting = done
      const run: Effect.Effect<void, ReconnectError> = lock.withPermits(1)(Effect.suspend(() => {
        if (closed) return Effect.fail(closedError())
        closeSlots(replaced())
        return openPrimary
      })).pipe(Effect.flatMap(whenConnected))
      return run.pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            reconnecting = undefined
          }).pipe(Effect.andThen(Deferred.done(done, exit)))
        )
      )
    })

    // spans are built without stack capture (a library span always starts on the same line), and
    // not at all when tracing is disabled: they sit on every call
    const spanOptions = (attributes?: Record<string, unknown>) => ({
      kind: "client" as const,
      captureStackTrace: false,
      attributes: { ...spanAttributes, ...attributes }
    })
    // with only the native tracer installed nobody can observe a span, so none is made (about a
    // tenth of the client CPU of a single-event append)
    // one step per call when no tracer is installed: the fiber's tracer is read in place
    const traceEffect = (name: string, attributes?: Record<string, unknown> | (() => Record<string, unknown>)) =>
    <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      tracing
        ? Effect.withFiber((fiber) =>
          fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer
            ? effect
            : Effect.withSpan(effect, name, spanOptions(typeof attributes === "function" ? attributes() : attributes))
        )
        : effect
    const traceStream = (name: string, attributes?: Record<string, unknown>) =>
    <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
      tracing ? Stream.withSpan(stream, name, spanOptions(attributes)) : stream

    yield* Effect.addFinalizer(() =>
      lock.withPermits(1)(Effect.sync(() => {
        closed = true
        closeSlots(closedError())
        for (const call of Array.from(running)) call.cancel()
        running.clear()
      }))
    )

    return {
      settings,
      unary,
      clientStream,
      serverStream: serverStreamOf,
      duplex,
      retry,
      resumable,
      resumeSchedule,
      timeoutMillis,
      deadline,
      reconnect,
      generation: () => generation,
      isClosed: () => closed,
      traceEffect,
      traceStream
    } satisfies TransportShape
  })
