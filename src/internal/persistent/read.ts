/**
 * `PersistentSubscriptions.readToStream` / `readToAll`: a consumer of a group, over the `Read`
 * duplex call (PROTOCOL.md §4).
 *
 * The subscription is scoped: its `events` Stream opens a `Read` call each time it runs (running
 * it again subscribes again), and yields the events with their `retryCount` and `ackId`. `ack` and
 * `nack` queue ids and send them in batches, when `ackBatchSize` ids wait or `ackDelay` after the
 * first; what waits is sent when a run of the Stream ends and when the scope closes. After the
 * scope has closed, `ack` and `nack` fail with `SubscriptionClosed` (nothing could send them).
 *
 * Closing a run. A real node never ends a `Read` call on its own: its handler reads acks and nacks
 * in a separate pump and writes events in a loop that only a cancellation (RST_STREAM, or the
 * connection lost) or a drop of the consumer ends; a half-close stops the pump and nothing else.
 * So the client ends the call by cancelling it, and the question is what happens to the acks it
 * sent just before. Kestrel (ASP.NET Core), on a RST_STREAM, cancels the request's token and
 * completes the request body pipe with an error (`Http2Stream.AbortCore`); a pipe completed with
 * an error throws it at the next read, before any bytes still buffered
 * (`PipeCompletion.IsCompletedOrThrow`), and the pump's read also watches the cancelled token.
 * Acks that reached the node but that its pump has not read yet are lost when the RST_STREAM
 * arrives: their events are delivered again (with `retryCount` + 1), never lost, but acked work
 * is redone. Nothing in the protocol tells the client that the node read its acks (they get no
 * reply; nor does a half-close), so closing narrows that window at little cost:
 * - what waits is flushed, and the call half-closed: the node's pump reads up to the end of what
 *   was sent, in order (HTTP/2 delivers the stream's DATA frames, then the RST_STREAM, in order);
 * - when acks or nacks went lately (ids waiting, or a batch started or sent within `ackDelay` +
 *   {@link ACK_GRACE_MS}), closing waits until grpc-js handed every message to HTTP/2 (the
 *   half-close's callback), then {@link ACK_GRACE_MS} more, so the RST_STREAM reaches the node that
 *   much after the last acks: time for its pump to read them (a thread-pool hop). The wait is
 *   bounded by {@link CLOSE_WAIT} when flow control holds the acks back, and cut short if the
 *   node ends the call. Events the node sends meanwhile stay in flight to this call, and go back
 *   for a retry (with `retryCount` + 1) when it is cancelled, as any in flight then do;
 * - otherwise (nothing sent lately) the call is cancelled at once.
 * The official Node client cancels one `setImmediate` after its last ack's write completed, with
 * no such margin. Waiting for the node to end the call, as an earlier version did, would wait the
 * whole bound against a real node, at the end of every run.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { RecordedEvent } from "../../domain/RecordedEvent.ts"
import type { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { SubscriptionClosed } from "../../errors/SubscriptionClosed.ts"
import { type ReadReq, ReadReq_Nack_Action } from "../../generated/persistent.ts"
import type { PersistentReadMessage } from "../codec/ReadRespDecoder.ts"
import type { CallError } from "../transport/CallError.ts"
import type { CallOptions } from "../transport/Options.ts"
import { Inbox } from "../transport/Inbox.ts"
import { observed } from "../transport/Recovery.ts"
import { canReconnect } from "../transport/Retry.ts"
import { deliveryCounter, withConsumerSpans } from "../transport/Deliveries.ts"
import { reconnecting } from "../transport/Reconnecting.ts"
import type { DuplexCall, TransportShape } from "../transport/Transport.ts"
import { type ReadSubscriptionError, toReadError } from "./errors.ts"
import { Read } from "./methods.ts"
import * as validate from "./settings.ts"
import { AckQueue } from "./AckQueue.ts"

/**
 * What to do with a message the consumer did not process:
 * - `unknown` / `retry`: deliver it again (parked once its retry count reaches the group's
 *   `maxRetryCount`);
 * - `park`: park it now;
 * - `skip`: drop it;
 * - `stop`: meant to stop the subscription; a real node (and the embedded one) only drops the
 *   message, as with `skip`.
 *
 * @since 0.1.0
 * @category models
 */
export type NackAction = "unknown" | "park" | "retry" | "skip" | "stop"

/**
 * What `ack` and `nack` take: events as delivered (their `ackId` is used) or ack ids.
 *
 * @since 0.1.0
 * @category models
 */
export type AckTarget = RecordedEvent | string

/**
 * Options of a consumer. Besides its own, the options of every call: `credentials` (the user the
 * consumer connects as, instead of the connection string's), `requiresLeader`, and `timeout`: how
 * long a run of `events` may last (its call then fails with `DeadlineExceeded`); none by default.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions extends CallOptions {
  /** How many events the node may have in flight to this consumer (1..10000); default 10. */
  readonly bufferSize?: number | undefined
  /** Acks and nacks are sent once this many ids wait (1..10000); default half the bufferSize, at most 100. */
  readonly ackBatchSize?: number | undefined
  /** ...or this long after the first waits (by the Clock the subscription was made with); default 20 ms. */
  readonly ackDelay?: Duration.Input | undefined
  /**
   * How a run of `events` connects again after a failure it can recover from (the node
   * unreachable or restarting, a dropped connection, a leader change, the consumer dropped by the
   * node); default the connection's `resumeSchedule` (forever, 100 ms doubling to 5 s, jittered).
   * `Schedule.recurs(0)` makes the first such failure end the Stream.
   */
  readonly resumeSchedule?: Schedule.Schedule<unknown, ReadSubscriptionError> | undefined
}

/**
 * A consumer of a persistent-subscription group.
 *
 * @since 0.1.0
 * @category models
 */
export interface PersistentSubscription {
  /**
   * The events the node delivers to this consumer; each run is a new connection to the group. It
   * never ends by itself: after a failure it can recover from (see `ReadOptions.resumeSchedule`)
   * it connects again (logged and counted as a `reconnect`); the node then delivers again what
   * was not acked. It ends with the consumer, or with a failure it cannot recover from
   * (SubscriptionNotFound, MaximumSubscribersReached, AccessDenied, ConnectionClosed…).
   */
  readonly events: Stream.Stream<RecordedEvent, ReadSubscriptionError>
  /**
   * Acknowledges events (processed); `SubscriptionClosed` once the subscription's scope has closed.
   *
   * Acks made after a run of `events` ended (its call closed) but before the scope closed wait for
   * the next run and are sent on its call, right after it connects. The node matches acks by event
   * id, whichever call carries them (a real node's outstanding messages are keyed by event id): the
   * consumer that left had its events in flight put back for a retry, and the new call gets them
   * again (with `retryCount` + 1) before the node reads the acks, which then count for them; acking
   * them again is harmless. An event still waiting in the group's retry buffer when the acks arrive
   * (the new call had no room for it yet) is not outstanding: its ack is ignored and the event
   * comes again, to be acked again. The same holds for `nack`.
   */
  readonly ack: (events: AckTarget | ReadonlyArray<AckTarget>) => Effect.Effect<void, InvalidArgument | SubscriptionClosed>
  /**
   * Reports events not processed, with what the node should do with them; `SubscriptionClosed`
   * once the subscription's scope has closed.
   */
  readonly nack: (
    events: AckTarget | ReadonlyArray<AckTarget>,
    action: NackAction,
    reason?: string
  ) => Effect.Effect<void, InvalidArgument | SubscriptionClosed>
}

const MAX_BUFFER = 10_000
const MAX_BATCH = 10_000
const MAX_REASON = 4096
/**
 * How long closing a run waits, once acks and nacks sent lately were handed to HTTP/2, before the
 * call is cancelled: the time the node has to read them (see "Closing a run").
 */
const ACK_GRACE_MS = 50
const ACK_GRACE = Duration.millis(ACK_GRACE_MS)
/** The most closing a run waits for acks and nacks that flow control holds back. */
const CLOSE_WAIT = Duration.seconds(2)

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

const NACK_ACTIONS: Record<NackAction, ReadReq_Nack_Action> = {
  unknown: ReadReq_Nack_Action.Unknown,
  park: ReadReq_Nack_Action.Park,
  retry: ReadReq_Nack_Action.Retry,
  skip: ReadReq_Nack_Action.Skip,
  stop: ReadReq_Nack_Action.Stop
}

const intIn = (name: string, value: number | undefined, min: number, max: number): InvalidArgument | undefined =>
  value === undefined || (Number.isInteger(value) && value >= min && value <= max)
    ? undefined
    : validate.invalidArgument(`${name} must be an integer in ${min}..${max}, got ${String(value)}`)

const idsOf = (events: AckTarget | ReadonlyArray<AckTarget>): Array<string> | InvalidArgument => {
  const list: ReadonlyArray<unknown> = Array.isArray(events) ? events : [events]
  const ids: Array<string> = []
  for (const e of list) {
    if (e instanceof RecordedEvent) ids.push(e.ackId)
    else if (typeof e === "string" && UUID.test(e)) ids.push(e)
    else return validate.invalidArgument(`Not an event or an event id: ${String(e)}`)
  }
  return ids
}

const make = (
  transport: TransportShape,
  stream: string,
  group: string,
  options: ReadOptions | undefined,
  deliverySpans = true
): Effect.Effect<PersistentSubscription, InvalidArgument, Scope.Scope> =>
  Effect.gen(function*() {
    const problem = validate.groupName(group) ??
      intIn("bufferSize", options?.bufferSize, 1, MAX_BUFFER) ??
      intIn("ackBatchSize", options?.ackBatchSize, 1, MAX_BATCH)
    if (problem) return yield* problem
    let delayMs = 20
    if (options?.ackDelay !== undefined) {
      const d = Duration.fromInput(options.ackDelay)
      if (Option.isNone(d) || !Duration.isFinite(d.value) || Duration.toMillis(d.value) < 0) {
        return yield* validate.invalidArgument(`ackDelay must be a finite, non-negative duration`)
      }
      delayMs = Duration.toMillis(d.value)
    }
    const bufferSize = options?.bufferSize ?? 10
    // by default a batch is at most half the buffer: the node has room again before it is full
    const batchSize = options?.ackBatchSize ?? Math.max(1, Math.min(100, Math.floor(bufferSize / 2)))
    const streamOption = validate.source(stream)

    // the calls of the runs of `events`, newest last: acks go to the newest
    const calls: Array<DuplexCall<ReadReq>> = []
    // time (the ack delay, closing's waits) from the Clock of whoever made the subscription
    const clock = yield* Clock.Clock
    const acks = new AckQueue({ batchSize, delayMillis: delayMs, clock, call: () => calls[calls.length - 1] })
    // set when the scope closes: what waits was sent, and nothing more can be
    let closed = false

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        acks.flush()
        closed = true
      })
    )
    // the ack delay's fiber, interrupted (before the finalizer above runs) when the scope closes
    yield* Effect.forkScoped(acks.delay)

    const closedError = (): SubscriptionClosed => new SubscriptionClosed({ stream, group })

    // what may wait in a run's inbox before its call is paused: a node keeps at most bufferSize
    // events in flight, so this only holds back a node that breaks that promise
    const high = Math.max(bufferSize, 64)

    // one run of `events`: a Read call; `onTake` sees each chunk the consumer takes
    const run = (scope: Scope.Scope, onTake: (events: ReadonlyArray<RecordedEvent>) => void) =>
      Effect.gen(function*() {
        let ended = false
        let onEnded: (() => void) | undefined
        // set once the call is open (the transport may end it while opening it)
        let opened: DuplexCall<ReadReq> | undefined
        const inbox: Inbox<RecordedEvent, ReadSubscriptionError> = new Inbox({
          high,
          pause: () => opened?.pause(),
          resume: () => opened?.resume(),
          onTake
        })
        const call = yield* transport.duplex(Read, {
          // the event as decoded (ReadRespDecoder.ts): a link the node could not resolve (its
          // target deleted) may come as the link alone, delivered as the link and acked by its id,
          // as reads do
          onMessage: (message: PersistentReadMessage) => {
            if (message._tag === "event" && message.event !== undefined) inbox.push(message.event)
          },
          onEnd: (error: CallError) => {
            ended = true
            const i = opened === undefined ? -1 : calls.indexOf(opened)
            if (i >= 0) calls.splice(i, 1)
            onEnded?.()
            inbox.fail(toReadError(stream, group)(error))
          }
        }, { spread: true, callOptions: options }).pipe(Effect.mapError(toReadError(stream, group)))
        call.write({
          content: {
            $case: "options",
            value: { streamOption, groupName: group, bufferSize, uuidOption: { content: { $case: "string", value: {} } } }
          }
        })
        if (!ended) {
          opened = call
          calls.push(call)
          // what waits from an earlier run goes now
          acks.flushMarked()
          // before the transport cancels the call: send what waits, and give the node time to
          // read what was sent lately (see "Closing a run" above)
          yield* Effect.addFinalizer(() =>
            Effect.suspend(() => {
              if (ended) return Effect.void
              const last = calls[calls.length - 1] === call
              // ids waiting now, or a batch started (or sent by the delay, or at the run's start)
              // lately: a batch goes when full or ackDelay after its first id, so these are the
              // acks and nacks the node may not have read yet
              const recent = last && acks.recent(ACK_GRACE_MS)
              if (last) acks.flush()
              const i = calls.indexOf(call)
              if (i >= 0) calls.splice(i, 1)
              if (!recent) return Effect.void
              // half-closed: the node's pump of acks reads to the end and stops; `end`'s callback
              // runs once grpc-js handed every message written before to HTTP/2; then the grace
              const handed = Effect.callback<void>((resume) => {
                call.end(() => resume(Effect.void))
              }).pipe(Effect.andThen(clock.sleep(ACK_GRACE)))
              // the node ending the call cuts the wait short
              const nodeEnded = Effect.callback<void>((resume) => {
                onEnded = () => resume(Effect.void)
                return Effect.sync(() => {
                  onEnded = undefined
                })
              })
              // flow control may hold the acks back: a node that reads nothing more is not waited for
              return Effect.raceAll([handed, nodeEnded, clock.sleep(CLOSE_WAIT)])
            })
          )
        }
        return inbox.pull
      }).pipe(
        Effect.withSpan("PersistentSubscriptions.read", { attributes: { "db.collection.name": stream, group } }),
        Scope.provide(scope)
      )

    const operation = stream === validate.ALL ? "PersistentSubscriptions.readToAll" : "PersistentSubscriptions.readToStream"
    const deliveries = { operation, destination: stream, group }
    const schedule = observed(options?.resumeSchedule ?? transport.resumeSchedule, {
      operation,
      action: "reconnect",
      // a run that outlived the caller's own `timeout` ends with it: it is not a fault to recover from
      allow: (error) => canReconnect(error) && !(options?.timeout !== undefined && error._tag === "DeadlineExceeded"),
      attributes: { stream, group }
    })
    // runs connected again after failures (Reconnecting.ts: Stream.retry's rules in one stage, as
    // this Stream is pulled once per event), each chunk counted as the consumer takes it, and a
    // consumer span per event unless the consumer makes its own around handling
    const events: Stream.Stream<RecordedEvent, ReadSubscriptionError> = Stream.unwrap(Effect.withFiber((fiber) => {
      const count = deliveryCounter(deliveries, fiber.context, fiber.getRef(Clock.Clock))
      const runs = reconnecting<RecordedEvent, ReadSubscriptionError>(
        (scope, progress) =>
          run(scope, (taken) => {
            progress()
            count(taken)
          }),
        schedule
      )
      return deliverySpans ? withConsumerSpans(transport, deliveries)(runs) : Effect.succeed(runs)
    }))

    return {
      events,
      ack: (targets) =>
        Effect.suspend((): Effect.Effect<void, InvalidArgument | SubscriptionClosed> => {
          if (closed) return Effect.fail(closedError())
          if (targets instanceof RecordedEvent) {
            acks.ack(targets.ackId)
            return Effect.void
          }
          const ids = idsOf(targets)
          if (!Array.isArray(ids)) return Effect.fail(ids)
          acks.add(ids, undefined)
          return Effect.void
        }),
      nack: (targets, action, reason = "") =>
        Effect.suspend((): Effect.Effect<void, InvalidArgument | SubscriptionClosed> => {
          if (closed) return Effect.fail(closedError())
          const ids = idsOf(targets)
          if (!Array.isArray(ids)) return Effect.fail(ids)
          const wire = NACK_ACTIONS[action]
          if (wire === undefined) return Effect.fail(validate.invalidArgument(`Unknown nack action '${String(action)}'`))
          if (typeof reason !== "string" || reason.length > MAX_REASON) {
            return Effect.fail(validate.invalidArgument(`The reason must be a string of at most ${MAX_REASON} characters`))
          }
          acks.add(ids, { action: wire, reason })
          return Effect.void
        })
    }
  })

/** @internal */
export const readToStream = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: ReadOptions,
  deliverySpans = true
): Effect.Effect<PersistentSubscription, InvalidArgument, Scope.Scope> =>
  Effect.suspend(() => {
    const problem = validate.streamOnly(stream)
    return problem ? Effect.fail(problem) : make(transport, stream, group, options, deliverySpans)
  })

/** @internal */
export const readToAll = (
  transport: TransportShape,
  group: string,
  options?: ReadOptions,
  deliverySpans = true
): Effect.Effect<PersistentSubscription, InvalidArgument, Scope.Scope> => make(transport, validate.ALL, group, options, deliverySpans)
