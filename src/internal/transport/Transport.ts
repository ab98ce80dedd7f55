/**
 * The one transport every service is written against, on grpc-js. It alone owns the connections,
 * the credentials, per-call headers and deadlines, error classification, leader redirect, the
 * retry `Schedule` and spans. Services hand it an {@link Operation} (its name, whether it reads
 * or writes, the caller's options, how its errors narrow) and one attempt of it, and get Effects
 * and Streams of domain values back: no grpc-js type crosses it.
 *
 * The entry points, one per shape of operation:
 * - {@link TransportShape.call}: an operation with one result (unary and client-stream calls, or a
 *   server stream collected). The deadline is computed once, from the Clock, and covers every
 *   retry; the retry Schedule runs while the failure may be retried (reads: whenever resuming is
 *   safe; writes: only when the node did not execute the request); one client span; the error
 *   union narrowed by the operation's `narrow`.
 * - {@link TransportShape.stream}: a read or subscription, resumed from its cursor after failures
 *   (within its deadline, when it has one); one span over the Stream; narrowed likewise.
 * - {@link TransportShape.duplex}: a call held open in a scope (BatchAppend, persistent consumers).
 *
 * It is made of parts: the connection pool (`ChannelPool.ts`), the call adapters (`Calls.ts`),
 * deadlines (`Deadline.ts`), the retry policy (`RetryPolicy.ts`; reads resume with
 * `ServerStream.resumeStream`, both logged and counted by `Recovery.ts`), tracing
 * (`Tracing.ts`) and the TLS diagnosis (`TlsDiagnosis.ts`).
 *
 * When the scope that made the transport closes, every running call is cancelled and fails with
 * `ConnectionClosed`, and so does every later call, at once.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { InvalidConnectionString } from "../../errors/InvalidConnectionString.ts"
import type { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import type { TlsFailed } from "../../errors/TlsFailed.ts"
import { type ConnectionSettings, parseConnectionString } from "../ConnectionString.ts"
import type { CallError } from "./CallError.ts"
import * as Calls from "./Calls.ts"
import { channelOptions, transportSecurity } from "./ChannelConfig.ts"
import * as ChannelPool from "./ChannelPool.ts"
import type { ClassifyContext } from "./classifyError.ts"
import { type DeadlineDefault, deadlineAt, timeoutMillis } from "./Deadline.ts"
import {
  type CallOptions,
  type ConnectionOptions,
  defaultResumeSchedule,
  defaultRetrySchedule,
  type ResumeFailure
} from "./Options.ts"
import { canResume, isRetryable } from "./Retry.ts"
import * as RetryPolicy from "./RetryPolicy.ts"
import { resumeStream } from "./ServerStream.ts"
import * as TlsDiagnosis from "./TlsDiagnosis.ts"
import * as Metrics from "./Metrics.ts"
import * as Tracing from "./Tracing.ts"
import type { SpanAttributes } from "./Tracing.ts"

export type { CallSpec, DuplexCall, Method } from "./Calls.ts"
export type { ReconnectError } from "./ChannelPool.ts"
export type { Emit } from "./ServerStream.ts"

/**
 * An operation as a service describes it to the transport.
 *
 * - `name`: `Area.operation`, the name of its span.
 * - `kind`: `"read"` (changes nothing on the node: retried whenever resuming is safe) or
 *   `"write"` (retried only when the failure proves the node did not execute it).
 * - `options`: the caller's (timeout, credentials, requiresLeader).
 * - `context`: what names the stream in its errors.
 * - `attributes`: span attributes (`db.collection.name`, `db.projection.name`, `group` ...); a
 *   function is called only when a span is made.
 * - `narrow`: maps a transport failure to the operation's error union (a type guard on the tag,
 *   from the area's `errors.ts`): the union is exact, without casts.
 *
 * @internal
 */
export interface Operation<E> {
  readonly name: string
  readonly kind: "read" | "write"
  readonly options?: CallOptions | undefined
  readonly context?: ClassifyContext | undefined
  readonly attributes?: SpanAttributes | undefined
  readonly narrow: (error: CallError) => E
}

/**
 * How a read or subscription resumes: the operation's name (for the log and the metric), whether
 * the Stream never ends by itself (subscriptions), a Schedule replacing the connection's
 * `resumeSchedule`, and attributes for the log and the metric.
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
 * The transport service.
 *
 * @internal
 */
export interface TransportShape {
  readonly settings: ConnectionSettings
  /**
   * Runs an operation with one result: `attempt` is one try of it (a unary or client-stream call
   * made with the given spec, and what follows from its reply); the deadline (the caller's
   * timeout, else the connection's DefaultDeadline) is computed once and covers every retry.
   */
  readonly call: <A, E>(
    operation: Operation<E>,
    attempt: (spec: Calls.CallSpec) => Effect.Effect<A, CallError>
  ) => Effect.Effect<A, E>
  /**
   * Runs a read or subscription: for each run, `start` is called once with the spec (it creates
   * the run's cursor) and returns the maker of one attempt (a server stream from the cursor),
   * called again to resume (see {@link TransportShape.resumable}; `resume` says whether the Stream
   * is endless, a subscription, and may replace its Schedule). The deadline (the caller's
   * timeout; none by default) bounds the run.
   */
  readonly stream: <A, E>(
    operation: Operation<E>,
    start: (spec: Calls.CallSpec) => () => Stream.Stream<A, CallError>,
    resume?: Omit<ResumeOptions, "operation" | "attributes">
  ) => Stream.Stream<A, E>
  readonly unary: Calls.Calls["unary"]
  readonly clientStream: Calls.Calls["clientStream"]
  readonly serverStream: Calls.Calls["serverStream"]
  /**
   * Opens a duplex call with the connection's own headers, or with `callOptions`' credentials and
   * `requiresLeader` when given; no deadline (it is long-lived) unless `callOptions` has a
   * `timeout`, which then bounds the call. It goes on the primary connection, or with `spread` on
   * a connection with room among those holding the long-lived calls (one per consumer, like a
   * subscription: counted against `streamsPerChannel` and `maxConnections`). It ends when the
   * scope closes, the connection is replaced, or the transport closes; `onEnd` then gets the
   * reason.
   */
  readonly duplex: Calls.Calls["duplex"]
  /**
   * Runs `effect` again under the retry `Schedule` while its failure is retryable, each retry
   * logged and counted under `operation` (Recovery.ts; "call" when not named). A failure to
   * connect is diagnosed first: a `tls` setting that does not match the node is a TlsFailed.
   * With a `deadline` (an instant of the Clock, from {@link TransportShape.deadline}), no attempt
   * starts after it: when the Schedule's next delay would reach it, the last failure is the result.
   * `retryable` replaces `isRetryable` (Retry.ts) as the judge of which failures are retried
   * (appends pass `canRetryAppend`).
   */
  readonly retry: <A, E extends CallError, R>(
    effect: Effect.Effect<A, E, R>,
    deadline?: number,
    operation?: string,
    retryable?: (error: CallError) => boolean
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
  /** The timeout of an operation in milliseconds (single-reply operations default to DefaultDeadline, streams to none). */
  readonly timeoutMillis: (options: CallOptions | undefined, kind: DeadlineDefault) => number
  /**
   * The deadline of an operation starting now, from the Clock (Infinity for none): computed once
   * per run of an operation, it bounds all its attempts.
   */
  readonly deadline: (options: CallOptions | undefined, kind: DeadlineDefault) => Effect.Effect<number>
  /**
   * Closes the current connection and connects again (rediscovering the node for cluster
   * strings), waiting until connected. Fibers asking while a reconnect runs share it: one
   * reconnect however many ask at once.
   */
  readonly reconnect: Effect.Effect<void, ChannelPool.ReconnectError>
  /** How many primary connections were opened so far (1 after the first call, +1 per reconnect). */
  readonly generation: () => number
  /** How many connections are open now (the primary and the extra ones of long-lived calls). */
  readonly connections: () => number
  /** Whether the scope that made the transport has closed. */
  readonly isClosed: () => boolean
  /** A client span around an effect (none when tracing is off or no tracer is installed). */
  readonly traceEffect: Tracing.Tracing["traceEffect"]
  /** A client span around a stream. */
  readonly traceStream: Tracing.Tracing["traceStream"]
  /** Counts an operation (Metrics.ts), unless the connection's `metrics` is false. */
  readonly measured: (operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** A producer span (appends): the body gets the trace context to write into the events. */
  readonly produce: Tracing.Tracing["produce"]
  /** Whether spans are made for the running fiber. */
  readonly tracingEnabled: Tracing.Tracing["enabled"]
  /** A consumer span for one delivered event (subscriptions), a child of its producer's. */
  readonly consumerSpan: Tracing.Tracing["consumerSpan"]
  /** A consumer span around handling one event (persistent consumers). */
  readonly consumeWith: Tracing.Tracing["consumeWith"]
}

/**
 * The transport service: one per connection, provided by `EventStoreDB.layer`.
 *
 * @since 0.1.0
 * @category services
 */
export class Transport extends Context.Service<Transport, TransportShape>()("effect-esdb/internal/Transport") {}

/**
 * Connections at most by default: well under the 1,000 a node accepts from all its clients.
 *
 * @internal
 */
export const DEFAULT_MAX_CONNECTIONS = 16

/**
 * How long an extra connection stays open without calls by default.
 *
 * @internal
 */
export const DEFAULT_IDLE_CONNECTION_TIMEOUT = Duration.seconds(30)

// a read changes nothing on the node: repeating one that may have run is safe
const readRetryable = (error: CallError): boolean => isRetryable(error) || canResume(error)

const operationName = (name: string) => name.slice(name.lastIndexOf(".") + 1)

const spanAttributesOf = (operation: Operation<unknown>): SpanAttributes => {
  const own = operation.attributes
  const base = { "db.operation.name": operationName(operation.name), "esdb.operation.kind": operation.kind }
  if (own === undefined) return base
  return typeof own === "function" ? () => ({ ...base, ...own() }) : { ...base, ...own }
}

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
    const pool = yield* ChannelPool.make({
      settings,
      credentials,
      channelOptions: channelOptions(settings, options.flowControlWindow, options.maxReceiveMessageSize),
      // under half of the 100 streams servers allow per connection, see Options.ts
      streamsPerChannel: options.streamsPerChannel ?? 40,
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      idleTimeout: options.idleConnectionTimeout === undefined
        ? DEFAULT_IDLE_CONNECTION_TIMEOUT
        : Duration.fromInputUnsafe(options.idleConnectionTimeout),
      resolveHost: options.resolveHost
    })
    // running calls are held in a scope of their own, closed once the pool is: a call cancelled
    // then sees the transport closed, and fails with ConnectionClosed
    const callsScope = yield* Scope.fork(yield* Effect.scope)
    yield* Effect.addFinalizer(() => pool.close)
    const calls = Calls.make(settings, pool, callsScope)
    const retrySchedule: Schedule.Schedule<unknown, CallError> = options.retrySchedule ?? defaultRetrySchedule
    const resumeSchedule = options.resumeSchedule ?? defaultResumeSchedule
    const diagnose = TlsDiagnosis.make(settings.tls, pool.lastEndpoint)
    const tracing = Tracing.make(settings, options, pool.lastEndpoint)
    const metricsOn = options.metrics !== false
    const measured: TransportShape["measured"] = metricsOn ? Metrics.measured : () => (effect) => effect

    const resumable: TransportShape["resumable"] = (make, until, resume) =>
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

    const timeoutOf: TransportShape["timeoutMillis"] = (callOptions, kind) =>
      timeoutMillis(settings.defaultDeadline, callOptions, kind)
    const deadline: TransportShape["deadline"] = (callOptions, kind) =>
      Effect.map(Clock.currentTimeMillis, (now) => deadlineAt(now, timeoutOf(callOptions, kind)))

    const retry: TransportShape["retry"] = (effect, until, operation, retryable) =>
      RetryPolicy.retry(effect, {
        schedule: retrySchedule,
        retryable: retryable ?? isRetryable,
        diagnose,
        until,
        operation: operation ?? "call"
      })

    const call: TransportShape["call"] = (operation, attempt) =>
      Effect.flatMap(deadline(operation.options, "reply"), (until) =>
        RetryPolicy.retry(
          attempt({ options: operation.options, kind: operation.kind, context: operation.context, deadline: until }),
          {
            schedule: retrySchedule,
            retryable: operation.kind === "read" ? readRetryable : isRetryable,
            diagnose,
            until,
            operation: operation.name
          }
        )).pipe(
          Effect.mapError(operation.narrow),
          tracing.traceEffect(operation.name, spanAttributesOf(operation)),
          measured(operation.name)
        )

    const stream: TransportShape["stream"] = (operation, start, resume) =>
      Stream.unwrap(Effect.map(deadline(operation.options, "stream"), (until) =>
        resumable(
          start({ options: operation.options, kind: operation.kind, context: operation.context, deadline: until }),
          until,
          {
            ...resume,
            operation: operation.name,
            attributes: operation.context?.stream === undefined ? undefined : { stream: operation.context.stream }
          }
        ))).pipe(
          Stream.mapError(operation.narrow),
          tracing.traceStream(operation.name, spanAttributesOf(operation)),
          metricsOn ? Metrics.measuredStream(operation.name) : (s) => s
        )

    return {
      settings,
      call,
      stream,
      unary: calls.unary,
      clientStream: calls.clientStream,
      serverStream: calls.serverStream,
      duplex: calls.duplex,
      retry,
      resumable,
      resumeSchedule,
      timeoutMillis: timeoutOf,
      deadline,
      reconnect: pool.reconnect,
      generation: pool.generation,
      connections: pool.size,
      isClosed: pool.isClosed,
      traceEffect: tracing.traceEffect,
      traceStream: tracing.traceStream,
      measured,
      produce: tracing.produce,
      tracingEnabled: tracing.enabled,
      consumerSpan: tracing.consumerSpan,
      consumeWith: tracing.consumeWith
    } satisfies TransportShape
  })
