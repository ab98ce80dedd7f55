/**
 * The options of a connection and of each call.
 *
 * @since 0.1.0
 */
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { CallError } from "./CallError.ts"
import type { ResolveHost } from "./Discovery.ts"

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
 * - `timeout`: the operation's deadline, retries included: it starts when the operation runs,
 *   each attempt gets what is left of it, and no retry starts after it. Writes default to the
 *   connection string's DefaultDeadline (milliseconds, 10 seconds when absent); reads and
 *   subscriptions have none by default (a read given one resumes only within it).
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
 * - `resumeSchedule`: how catch-up subscriptions (`subscribeToAll`, `subscribeToStream`) and
 *   persistent-subscription consumers (`consume`, the `events` of `readToStream`/`readToAll`) go
 *   on after a failure they can resume from (the node unreachable
 *   or restarting, a dropped connection, a subscription the node ended, a leader change, a dropped
 *   consumer): from the last delivered position, with no gap and no duplicate. The Schedule
 *   starts afresh once something was delivered again. Defaults to {@link defaultResumeSchedule}:
 *   forever, 100 ms doubling to 5 s, jittered. Every resume is logged (`Effect.logWarning`) and
 *   counted (`esdb_recoveries`), as is every retry. Reads (`read`, `readAll`) resume after the
 *   same failures but under `retrySchedule` (bounded; it starts afresh after each progress): a
 *   read of a node that stays down fails.
 * - `streamsPerChannel`: long-lived calls (subscriptions, reads, persistent-subscription consumers)
 *   per HTTP/2 connection before another connection is opened. Defaults to 40. Servers allow about 100 concurrent streams per
 *   connection and keep counting a stream the client has just cancelled for a moment (a server
 *   on Node's HTTP/2, such as the embedded node, against those 100 until its event loop next
 *   turns; Kestrel against twice as many), so a connection whose calls all end and are replaced
 *   at once holds twice its calls for that moment, next to its other calls (appends and
 *   single-reply calls). Streams past the limit are refused with ENHANCE_YOUR_CALM, and their
 *   calls fail with RESOURCE_EXHAUSTED.
 * - `maxConnections`: the most HTTP/2 connections the client opens to a node (the primary one and
 *   the extra ones long-lived calls are spread over). Defaults to 16: up to 640 long-lived calls
 *   at once with the default `streamsPerChannel`, well under the 1,000 connections a node accepts
 *   from all its clients. Further long-lived calls wait until one of those ends (one with a
 *   `timeout` at most until its deadline).
 * - `idleConnectionTimeout`: how long an extra connection stays open once its last long-lived call
 *   has ended (the primary one stays). Defaults to 30 seconds.
 * - `flowControlWindow`: bytes a node may send on one read or subscription before the client has
 *   consumed them (the HTTP/2 receive window). Defaults to 256 KiB: enough for full speed on a
 *   LAN, and it keeps memory flat when the consumer is slower than the node. Raise it (for
 *   example to 4 MiB) for reads over high-latency links, where throughput is at most the window
 *   per round trip.
 * - `maxReceiveMessageSize`: the largest message accepted from a node, in bytes; a larger one
 *   fails its call before it is buffered. Defaults to 17 MiB: the largest event a node accepts
 *   (16 MiB) plus its envelope.
 * - `resolveHost`: resolves the host of a `+discover` connection string (the cluster's DNS name)
 *   to the addresses of its nodes, each asked for gossip on the string's port. Defaults to the
 *   system resolver (`dns.lookup`, all A and AAAA records). Replace it to discover through another
 *   name service, or in tests (several loopback addresses).
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
  readonly resumeSchedule?: Schedule.Schedule<unknown, ResumeFailure> | undefined
  readonly streamsPerChannel?: number | undefined
  readonly maxConnections?: number | undefined
  readonly idleConnectionTimeout?: Duration.Input | undefined
  readonly flowControlWindow?: number | undefined
  readonly maxReceiveMessageSize?: number | undefined
  readonly resolveHost?: ResolveHost | undefined
  /** Set to false to create no spans (every operation has a span when a tracer is installed). */
  readonly tracing?: boolean | undefined
  /**
   * Set to false to update no per-operation metrics (`esdb_calls`, `esdb_call_errors`,
   * `esdb_call_duration_ms`, `esdb_calls_in_flight`: about 0.8 µs of CPU per operation);
   * `esdb_recoveries` and the subscriptions' delivery metrics are kept.
   */
  readonly metrics?: boolean | undefined
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
 * What a resume Schedule sees: the failure a subscription, read or consumer is resumed after (a
 * transport failure, or a consumer dropped by the node).
 *
 * @since 0.1.0
 * @category models
 */
export type ResumeFailure = { readonly _tag: string; readonly message: string }

const RESUME_CAP = Duration.seconds(5)

/**
 * The default resume policy: forever, exponential backoff from 100 ms doubling up to 5 s, each
 * delay jittered (×0.8 to ×1.2).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultResumeSchedule: Schedule.Schedule<unknown, ResumeFailure> = Schedule.exponential("100 millis", 2).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, RESUME_CAP))),
  Schedule.jittered
)
