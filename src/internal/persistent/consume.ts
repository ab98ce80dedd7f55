/**
 * `PersistentSubscriptions.consume`: a consumer of a group that runs an Effect handler per event.
 *
 * - At most `concurrency` handlers run at once; with `orderedPerStream`, the events of one stream
 *   are handled one after the other, in the order they arrived.
 * - A handler that succeeds acks its event; one that fails nacks it `retry` while the event's
 *   `retryCount` is below `maxRetries`, then `finalAction` (`park` by default). The nack's reason
 *   (kept by the node with a parked event) is the error's tag and message, e.g.
 *   `"PaymentRefused: card expired"`.
 * - It never ends by itself: when the subscription is dropped, the node is unavailable or
 *   restarting, or the leader changes (every failure `canReconnect` in Retry.ts accepts), it
 *   connects again under the `reconnect` Schedule (default the connection's `resumeSchedule`:
 *   forever), each time logged and counted (Recovery.ts); the acks not yet sent go on the new call.
 * - Interrupting it stops taking events; the handlers running finish (they run uninterruptibly)
 *   and their acks are sent before the call is closed.
 * - Effect metrics, with the group as attribute: `esdb_persistent_handled`,
 *   `esdb_persistent_retried`, `esdb_persistent_parked` (counters), `esdb_persistent_in_flight`
 *   (gauge).
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { RecordedEvent } from "../../domain/RecordedEvent.ts"
import type { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { DeadlineExceeded } from "../../errors/DeadlineExceeded.ts"
import type { CallOptions } from "../transport/Options.ts"
import { consumerAttributes, consumerSpanName } from "../transport/Deliveries.ts"
import type { TransportShape } from "../transport/Transport.ts"
import type { ReadSubscriptionError } from "./errors.ts"
import { readToAll, readToStream } from "./read.ts"
import * as validate from "./settings.ts"

/**
 * How `consumeToStream` / `consumeToAll` run. Besides their own, the options of every call:
 * `credentials` (the user the consumer connects as, instead of the connection string's),
 * `requiresLeader`, and `timeout`: how long the consumer runs before it stops (as when
 * interrupted: the running handlers finish and their acks are sent) and fails with
 * `DeadlineExceeded`; none by default (it runs until interrupted).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumePolicy extends CallOptions {
  /** Handlers running at once (1..1000); default 1. */
  readonly concurrency?: number | undefined
  /** Handle the events of one stream one at a time, in order; default false. */
  readonly orderedPerStream?: boolean | undefined
  /** A failed event is nacked `retry` while its retryCount is below this (0..1000); default 3. */
  readonly maxRetries?: number | undefined
  /** ...then this; default `park`. */
  readonly finalAction?: "park" | "skip" | undefined
  /**
   * When to connect again after a failure it can recover from (a drop, the node unavailable or
   * restarting, a leader change); default the connection's `resumeSchedule`: 100 ms doubling to
   * 5 s, jittered, forever.
   */
  readonly reconnect?: Schedule.Schedule<unknown, ReadSubscriptionError> | undefined
  /** In flight from the node to this consumer; default twice the concurrency, at least 10. */
  readonly bufferSize?: number | undefined
}

const MAX_REASON = 4096

/**
 * The reason a failed event is nacked with: the error's tag and message (`"Tag: message"`), its
 * name and message for other Errors, else the value as text; at most the 4096 characters a nack's
 * reason may have.
 *
 * @internal
 */
export const reasonOf = (error: unknown): string => {
  let reason: string
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : error instanceof Error ? error.name : undefined
    const message = "message" in error && typeof error.message === "string" ? error.message : ""
    reason = tag === undefined ? (message || String(error)) : message === "" ? tag : `${tag}: ${message}`
  } else reason = String(error)
  return reason.length > MAX_REASON ? reason.slice(0, MAX_REASON - 1) + "…" : reason
}

/** `stream` is the group's stream, or `$all` (validate.ALL) for a group on `$all`. @internal */
export const consume = <E, R>(
  transport: TransportShape,
  stream: string,
  group: string,
  handler: (event: RecordedEvent) => Effect.Effect<void, E, R>,
  policy: ConsumePolicy = {}
): Effect.Effect<never, ReadSubscriptionError | InvalidArgument, R> =>
  Effect.scoped(Effect.gen(function*() {
    const concurrency = policy.concurrency ?? 1
    const maxRetries = policy.maxRetries ?? 3
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
      return yield* validate.invalidArgument(`concurrency must be an integer in 1..1000, got ${String(concurrency)}`)
    }
    if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 1000) {
      return yield* validate.invalidArgument(`maxRetries must be an integer in 0..1000, got ${String(maxRetries)}`)
    }
    const finalAction = policy.finalAction ?? "park"
    if (finalAction !== "park" && finalAction !== "skip") {
      return yield* validate.invalidArgument(`finalAction must be "park" or "skip", got ${String(finalAction)}`)
    }
    // the consumer's Stream reconnects by itself (Retry.ts decides after what)
    const readOptions = {
      bufferSize: policy.bufferSize ?? Math.max(10, concurrency * 2),
      credentials: policy.credentials,
      requiresLeader: policy.requiresLeader,
      resumeSchedule: policy.reconnect
    }
    // the consumer span is made around each handler (below), not at delivery
    const sub = yield* (stream === validate.ALL
      ? readToAll(transport, group, readOptions, false)
      : readToStream(transport, stream, group, readOptions, false))
    const deliveries = { operation: "PersistentSubscriptions.consume", destination: stream, group }
    const spanName = consumerSpanName(deliveries)

    const attributes = { stream, group }
    const handled = Metric.counter("esdb_persistent_handled", { description: "Events handled and acked", attributes })
    const retried = Metric.counter("esdb_persistent_retried", { description: "Events nacked for a retry", attributes })
    const parked = Metric.counter("esdb_persistent_parked", {
      description: "Events given up on (parked or skipped)",
      attributes
    })
    const inFlightGauge = Metric.gauge("esdb_persistent_in_flight", { description: "Handlers running", attributes })
    let inFlight = 0
    const running = (delta: number) =>
      Effect.suspend(() => {
        inFlight += delta
        return Metric.update(inFlightGauge, inFlight)
      })

    const handleOne = (event: RecordedEvent) =>
      Effect.uninterruptible(
        running(1).pipe(
          Effect.andThen(handler(event).pipe(
            transport.consumeWith(spanName, event.metadata, () => consumerAttributes(deliveries, event))
          )),
          Effect.matchEffect({
            onSuccess: () => Effect.andThen(sub.ack(event), Metric.update(handled, 1)),
            onFailure: (error) => {
              const again = (event.retryCount ?? 0) < maxRetries
              return Effect.andThen(
                sub.nack(event, again ? "retry" : finalAction, reasonOf(error)),
                Metric.update(again ? retried : parked, 1)
              )
            }
          }),
          Effect.ensuring(running(-1)),
          // an ack id the client refuses cannot happen for a delivered event
          Effect.orDie
        )
      )

    // per stream, the previous event's completion: the next one of that stream waits for it
    const tails = new Map<string, Deferred.Deferred<void>>()
    const ordered = (event: RecordedEvent) =>
      Effect.gen(function*() {
        const key = event.streamName
        const previous = tails.get(key)
        const mine = yield* Deferred.make<void>()
        tails.set(key, mine)
        if (previous !== undefined) yield* Deferred.await(previous)
        yield* handleOne(event).pipe(
          Effect.ensuring(Effect.sync(() => {
            if (tails.get(key) === mine) tails.delete(key)
          })),
          Effect.ensuring(Deferred.succeed(mine, undefined))
        )
      })

    const once = sub.events.pipe(
      Stream.mapEffect(policy.orderedPerStream === true ? ordered : handleOne, { concurrency, unordered: true }),
      Stream.runDrain
    )
    return yield* Effect.forever(once)
  }))

/**
 * A consumer bounded by its policy's `timeout`: interrupted then (its running handlers finish
 * and their acks are sent), it fails with DeadlineExceeded. Time is Effect's Clock.
 *
 * @internal
 */
export const withTimeout = <E, R>(
  group: string,
  policy: ConsumePolicy | undefined,
  consumer: Effect.Effect<never, E, R>
): Effect.Effect<never, E | DeadlineExceeded, R> =>
  policy?.timeout === undefined ? consumer : consumer.pipe(
    Effect.timeoutOrElse({
      duration: policy.timeout,
      orElse: () => Effect.fail(new DeadlineExceeded({ reason: `The consumer of ${group} ran for its timeout` }))
    })
  )
