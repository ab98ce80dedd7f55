/**
 * What every subscription and persistent consumer does with the events it delivers: counts them
 * (`esdb_subscription_events`), records how long ago the last one was recorded
 * (`esdb_subscription_lag_ms`), once per chunk; and, when spans are made, a `consumer` span per
 * event, a child of the producer span found in its metadata (Tracing.ts). Without a tracer the
 * Stream is only counted.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { RecordedEvent } from "../../domain/RecordedEvent.ts"
import { deliverySeries } from "./Metrics.ts"
import type { TransportShape } from "./Transport.ts"

/**
 * Which subscription delivers: its operation, what it reads (`$all`, a stream), its group.
 *
 * @internal
 */
export interface DeliveryOptions {
  readonly operation: string
  readonly destination: string
  readonly group?: string | undefined
}

const isRecorded = (item: unknown): item is RecordedEvent => item instanceof RecordedEvent

/** The consumer span's attributes of one event (messaging conventions). @internal */
export const consumerAttributes = (options: DeliveryOptions, event: RecordedEvent): Record<string, unknown> => ({
  "db.operation.name": options.operation.slice(options.operation.lastIndexOf(".") + 1),
  "db.collection.name": event.streamName,
  "messaging.system": "eventstoredb",
  "messaging.operation.type": "process",
  "messaging.operation.name": "process",
  "messaging.destination.name": options.destination,
  "messaging.message.id": event.id,
  "esdb.event.type": event.type,
  "esdb.event.stream_position": event.streamPosition.toString(),
  ...(options.group === undefined ? {} : { "messaging.consumer.group.name": options.group })
})

/** The span's name: `process <destination>` (messaging conventions). @internal */
export const consumerSpanName = (options: DeliveryOptions) => `process ${options.destination}`

/**
 * Counts delivered chunks: `esdb_subscription_events` and `esdb_subscription_lag_ms` of `options`,
 * updated in `context` (the consumer's), the lag by `clock`. Called once per chunk, synchronously.
 *
 * @internal
 */
export const deliveryCounter = (
  options: DeliveryOptions,
  context: Context.Context<never>,
  clock: Clock.Clock
): (chunk: ReadonlyArray<unknown>) => void => {
  const series = deliverySeries({
    operation: options.operation,
    destination: options.destination,
    ...(options.group === undefined ? {} : { group: options.group })
  }, context)
  // the lag is read at most once per millisecond of the Clock (its resolution): a consumer
  // handed one event per chunk would otherwise read the clock and parse the event's time for each
  let lagAt = -1
  return (chunk) => {
    let n = 0
    let last: RecordedEvent | undefined
    for (const item of chunk) {
      if (isRecorded(item)) {
        n++
        last = item
      }
    }
    if (last === undefined) return
    const now = clock.currentTimeMillisUnsafe()
    if (now === lagAt) return series.delivered(n, undefined)
    lagAt = now
    const recordedAt = RecordedEvent.recordedMillis(last)
    series.delivered(n, recordedAt === undefined ? undefined : Math.max(0, now - recordedAt))
  }
}

/**
 * A `consumer` span per delivered event when a tracer observes them (Tracing.ts), else `stream`
 * as it is: decided when the returned Effect runs, so that a caller already inside a
 * `Stream.unwrap` adds no second one (each costs a step on every pull).
 *
 * @internal
 */
export const withConsumerSpans = (
  tracing: Pick<TransportShape, "tracingEnabled" | "consumerSpan">,
  options: DeliveryOptions
) =>
<A, E, R>(stream: Stream.Stream<A, E, R>): Effect.Effect<Stream.Stream<A, E, R>> => {
  const name = consumerSpanName(options)
  return Effect.map(tracing.tracingEnabled, (enabled) =>
    enabled
      ? Stream.tap(stream, (item) =>
        isRecorded(item) ? tracing.consumerSpan(name, item.metadata, consumerAttributes(options, item)) : Effect.void
      )
      : stream)
}

/** @internal */
export const observeDeliveries = (
  tracing: Pick<TransportShape, "tracingEnabled" | "consumerSpan">,
  options: DeliveryOptions,
  spans = true
) =>
<A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
  Stream.unwrap(Effect.withFiber((fiber) => {
    const count = deliveryCounter(options, fiber.context, fiber.getRef(Clock.Clock))
    const counted = Stream.mapArray(stream, (chunk) => {
      count(chunk)
      return chunk
    })
    return spans ? withConsumerSpans(tracing, options)(counted) : Effect.succeed(counted)
  }))
