/**
 * The one transport every service is written against: it owns the gRPC channels, the
 * credentials, per-call headers and deadlines, error classification and the retry/reconnect
 * policy. Services stay thin translations between domain values and protocol messages.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as tls from "node:tls"
import { DiscoveryFailed } from "../errors/DiscoveryFailed.ts"
import type { InvalidConnectionString } from "../errors/InvalidConnectionString.ts"
import { ServiceUnavailable } from "../errors/ServiceUnavailable.ts"
import { StreamsClient } from "./StreamsClient.ts"
import { callMetadata, channelOptions, keepAlive, transportSecurity } from "./ChannelConfig.ts"
import { classifyError, type EsdbError, isRetryable } from "./classifyError.ts"
import { type ConnectionSettings, type Endpoint, parseConnectionString } from "./ConnectionString.ts"
import { discover, readGossipOverGrpc } from "./Discovery.ts"

/**
 * User credentials sent as Basic authentication (only over TLS).
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * Options every operation accepts.
 *
 * - `timeout`: the call's deadline. Writes default to the connection string's DefaultDeadline
 *   (milliseconds, 10 seconds when absent); reads and subscriptions have none by default.
 * - `credentials`: overrides the connection string's user for this call.
 * - `requiresLeader`: sends `requires-leader: true` so a follower refuses the call with
 *   NodeIsNotLeader instead of serving or forwarding it; defaults to NodePreference=leader.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  readonly timeout?: Duration.Input | undefined
  readonly credentials?: Credentials | undefined
  readonly requiresLeader?: boolean | undefined
}

/**
 * How a connection is made.
 *
 * - `connectionString`: `esdb://`, `esdb+discover://`, `kurrentdb://`, `kurrent://`, `kdb://` (each
 *   also `+discover`).
 * - `rootCertificates`, `privateKey`, `certChain`: PEM contents; `TlsCaFile`, `UserCertFile` and
 *   `UserKeyFile` in the connection string take precedence.
 * - `retrySchedule`: how failed calls are retried when retrying is safe (the node was unavailable,
 *   or it was not the leader). Defaults to exponential backoff from 100 ms, jittered, at most 5
 *   retries. `Schedule.recurs(0)` disables retries.
 * - `streamsPerChannel`: long-lived calls (subscriptions, reads) per HTTP/2 connection before
 *   another connection is opened (servers allow about 100 concurrent streams per connection).
 * - `flowControlWindow`: bytes a node may send on one read or subscription before the client has
 *   consumed them (the HTTP/2 receive window). Defaults to 256 KiB: enough for full speed on a
 *   LAN, and it keeps memory flat when the consumer is slower than the node. Raise it (for
 *   example to 4 MiB) for reads over high-latency links, where throughput is at most the window
 *   per round trip.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionOptions {
  readonly connectionString: string | Redacted.Redacted<string>
  readonly rootCertificates?: Buffer | string | undefined
  readonly privateKey?: Buffer | string | undefined
  readonly certChain?: Buffer | string | undefined
  readonly retrySchedule?: Schedule.Schedule<unknown, CallError> | undefined
  readonly streamsPerChannel?: number | undefined
  readonly flowControlWindow?: number | undefined
  /** Set to false to create no spans (every operation has a client span by default). */
  readonly tracing?: boolean | undefined
  /** Attributes added to every span, next to `db.system.name` and `server.address`/`server.port`. */
  readonly spanAttributes?: Readonly<Record<string, unknown>> | undefined
}

/**
 * The default retry policy: exponential backoff from 100 ms, jittered, at most 5 retries.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetrySchedule: Schedule.Schedule<unknown, CallError> = Schedule.exponential("100 millis", 2).pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 5 })
)

/**
 * Every failure a call can end with: a classified gRPC failure, or discovery that found no node.
 *
 * @since 0.1.0
 * @category errors
 */
export type CallError = EsdbError | DiscoveryFailed

/** True when the call may be retried safely: see `isRetryable` in classifyError. @internal */
export const retryable = (error: CallError): boolean => error._tag !== "DiscoveryFailed" && isRetryable(error)

/** One HTTP/2 connection and the clients bound to it. @internal */
export interface ChannelSlot {
  readonly endpoint: Endpoint
  readonly channel: grpc.Channel
  readonly streams: StreamsClient
  readonly generation: number
  active: number
  closed: boolean
  /**
   * Run when the slot is closed (the connection is invalidated or the layer's scope ends): calls
   * that nobody's scope owns, such as the shared BatchAppend call, end themselves here, since an
   * HTTP/2 connection only closes once its last call has ended.
   */
  readonly onClose: Set<() => void>
}

/** What a failed call leaves behind: the error, and the slot it used. @internal */
export interface Connection {
  readonly settings: ConnectionSettings
  /** The channel for short calls. */
  readonly acquire: Effect.Effect<ChannelSlot, ServiceUnavailable | DiscoveryFailed>
  /** A channel with room for one more long-lived call; released with the scope. */
  readonly acquireLong: Effect.Effect<ChannelSlot, ServiceUnavailable | DiscoveryFailed, Scope.Scope>
  /** Drops the slot's connection after a failure so the next call reconnects (to the leader, when known). */
  readonly invalidate: (slot: ChannelSlot, error: EsdbError) => Effect.Effect<void>
  /** Per-call headers. */
  readonly metadata: (options: CallOptions | undefined) => grpc.Metadata
  /** Per-call deadline. */
  readonly deadline: (options: CallOptions | undefined, kind: "write" | "read") => grpc.Deadline
  /** The per-call timeout in milliseconds (writes default to DefaultDeadline, reads to none: Infinity). */
  readonly timeoutMillis: (options: CallOptions | undefined, kind: "write" | "read") => number
  /** Classifies a failure of a call on `slot` and invalidates the slot when the failure calls for it. */
  readonly fail: (slot: ChannelSlot, failure: unknown, context?: { readonly stream?: string | undefined }) => EsdbError
  /** Runs `effect` again under the retry policy while its failure is retryable. */
  readonly retry: <A, E extends CallError, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly retrySchedule: Schedule.Schedule<unknown, CallError>
  /** How the client's own HTTP/2 connections (BatchAppend) connect: TLS options and keepalive. */
  readonly transport: {
    readonly tls: tls.ConnectionOptions | undefined
    /** PING interval in milliseconds; -1: none. */
    readonly keepAliveMs: number
    readonly keepAliveTimeoutMs: number
  }
  /** Whether operations create spans. */
  readonly tracing: boolean
  /** Attributes of every span. */
  readonly spanAttributes: Readonly<Record<string, unknown>>
}

/**
 * The connection service.
 *
 * @since 0.1.0
 * @category services
 */
export class EsdbConnection extends Context.Service<EsdbConnection, Connection>()("effect-esdb/Connection") {}

const needsReconnect = (error: EsdbError): boolean =>
  error._tag === "ServiceUnavailable" || (error._tag === "NodeIsNotLeader")

/**
 * Makes a connection. No I/O happens until the first call (then discovery, for cluster strings).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ConnectionOptions
): Effect.Effect<Connection, InvalidConnectionString, Scope.Scope> =>
  Effect.gen(function*() {
    const raw = Redacted.isRedacted(options.connectionString)
      ? Redacted.value(options.connectionString)
      : options.connectionString
    const parsed = parseConnectionString(raw)
    if (Result.isFailure(parsed)) return yield* parsed.failure
    const settings = parsed.success
    for (const warning of settings.warnings) yield* Effect.logWarning(`effect-esdb: ${warning}`)
    const security = yield* transportSecurity(settings, {
      rootCertificates: toBuffer(options.rootCertificates),
      privateKey: toBuffer(options.privateKey),
      certChain: toBuffer(options.certChain)
    })
    const credentials = security.credentials
    const keepAliveSettings = keepAlive(settings)
    const baseOptions = channelOptions(settings, options.flowControlWindow)
    const streamsPerChannel = options.streamsPerChannel ?? 80
    const retrySchedule = options.retrySchedule ?? defaultRetrySchedule
    const lock = yield* Semaphore.make(1)

    let generation = 0
    let slots: Array<ChannelSlot> = []
    let leaderHint: Endpoint | undefined
    let failedEndpoint: Endpoint | undefined

    // Every channel gets its own subchannel pool, hence its own HTTP/2 connection: extra channels
    // must not share the primary's connection (that is their point), and grpc-js's global pool
    // would keep a closed client's connection open for up to 20 seconds (and share it between
    // clients).
    const openSlot = (endpoint: Endpoint): ChannelSlot => {
      const target = endpoint.host.includes(":") && !endpoint.host.startsWith("[")
        ? `[${endpoint.host}]:${endpoint.port}`
        : `${endpoint.host}:${endpoint.port}`
      const channel = new grpc.Channel(target, credentials, { ...baseOptions, "grpc.use_local_subchannel_pool": 1 })
      return {
        endpoint,
        channel,
        streams: new StreamsClient(target, credentials, { channelOverride: channel }),
        generation,
        active: 0,
        closed: false,
        onClose: new Set()
      }
    }

    const closeAll = () => {
      for (const slot of slots) {
        slot.closed = true
        for (const close of Array.from(slot.onClose)) {
          try {
            close()
          } catch {
            // a closer must not keep the connection open
          }
        }
        slot.onClose.clear()
        slot.streams.close()
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

    const connect: Effect.Effect<ChannelSlot, ServiceUnavailable | DiscoveryFailed> = lock.withPermits(1)(
      Effect.suspend(() => {
        const current = slots[0]
        if (current !== undefined) return Effect.succeed(current)
        return Effect.map(resolveEndpoint, (endpoint) => {
          generation++
          const slot = openSlot(endpoint)
          slots = [slot]
          return slot
        })
      })
    )

    // every call starts here: the common case (connected) takes no lock
    const primary: Effect.Effect<ChannelSlot, ServiceUnavailable | DiscoveryFailed> = Effect.suspend(() => {
      const current = slots[0]
      return current !== undefined && !current.closed ? Effect.succeed(current) : connect
    })

    const acquireLong: Effect.Effect<ChannelSlot, ServiceUnavailable | DiscoveryFailed, Scope.Scope> = Effect
      .acquireRelease(
        Effect.flatMap(primary, (first) =>
          lock.withPermits(1)(Effect.sync(() => {
            let slot = slots.find((s) => s.active < streamsPerChannel && s.generation === first.generation)
            if (slot === undefined) {
              slot = openSlot(first.endpoint)
              slots.push(slot)
            }
            slot.active++
            return slot
          }))),
        (slot) =>
          Effect.sync(() => {
            slot.active--
          })
      )

    const invalidate = (slot: ChannelSlot, error: EsdbError): Effect.Effect<void> =>
      lock.withPermits(1)(Effect.sync(() => {
        if (slot.closed || slot.generation !== generation) return
        if (error._tag === "NodeIsNotLeader" && error.leader !== undefined) {
          leaderHint = { host: error.leader.host, port: error.leader.port }
        } else {
          failedEndpoint = slot.endpoint
        }
        closeAll()
      }))

    const fail = (slot: ChannelSlot, failure: unknown, context?: { readonly stream?: string | undefined }) => {
      const error = classifyError(failure, context)
      if (needsReconnect(error)) Effect.runFork(invalidate(slot, error))
      return error
    }

    const metadata = (callOptions: CallOptions | undefined): grpc.Metadata =>
      callMetadata(settings, {
        requiresLeader: callOptions?.requiresLeader ?? settings.nodePreference === "leader",
        credentials: callOptions?.credentials
      })

    const timeoutMillis = (callOptions: CallOptions | undefined, kind: "write" | "read"): number => {
      if (callOptions?.timeout !== undefined) {
        return Math.max(0, Duration.toMillis(Duration.fromInputUnsafe(callOptions.timeout)))
      }
      // capped at about a year: longer deadlines overflow grpc-js timers
      return kind === "write" ? Math.min(settings.defaultDeadline ?? 10_000, 31_536_000_000) : Infinity
    }

    const deadline = (callOptions: CallOptions | undefined, kind: "write" | "read"): grpc.Deadline => {
      const ms = timeoutMillis(callOptions, kind)
      return ms === Infinity ? Infinity : Date.now() + ms
    }

    // The retry machinery is set up only after a first retryable failure (it costs a few µs per
    // call otherwise); that failure is replayed into it, so the schedule sees the same sequence.
    const retry = <A, E extends CallError, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.catchIf(effect, (error: E) => retryable(error), (first: E) => {
        let replay: E | undefined = first
        const again = Effect.suspend(() => {
          if (replay === undefined) return effect
          const error = replay
          replay = undefined
          return Effect.fail(error)
        })
        return Effect.retry(again, { schedule: retrySchedule, while: (error: E) => retryable(error) })
      })

    yield* Effect.addFinalizer(() => lock.withPermits(1)(Effect.sync(closeAll)))

    return {
      settings,
      acquire: primary,
      acquireLong,
      invalidate,
      metadata,
      deadline,
      timeoutMillis,
      fail,
      retry,
      retrySchedule,
      transport: {
        tls: security.tls,
        keepAliveMs: keepAliveSettings.intervalMs,
        keepAliveTimeoutMs: keepAliveSettings.timeoutMs
      },
      tracing: options.tracing ?? true,
      spanAttributes: {
        "db.system.name": "eventstoredb",
        "server.address": settings.hosts[0]?.host,
        "server.port": settings.hosts[0]?.port,
        ...options.spanAttributes
      }
    } satisfies Connection
  })

const toBuffer = (value: Buffer | string | undefined): Buffer | undefined =>
  value === undefined ? undefined : typeof value === "string" ? Buffer.from(value) : value

/** @internal */
export const unavailable = (reason: string, cause?: unknown) => new ServiceUnavailable({ reason, cause })

/** @internal */
export const discoveryFailed = (reason: string, attempts: number) => new DiscoveryFailed({ reason, attempts })
