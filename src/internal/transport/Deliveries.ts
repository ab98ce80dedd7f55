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
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { RecordedEvent } from "../../domain/RecordedEvent.ts"
import { deliveryMetrics } from "./Metrics.ts"
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

/** @internal */
export const observeDeliveries = (
  tracing: Pick<TransportShape, "tracingEnabled" | "consumerSpan">,
  options: DeliveryOptions,
  spans = true
) =>
<A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
  Stream.unwrap(Effect.withFiber((fiber) => {
    const context = fiber.context
    const clock = fiber.getRef(Clock.Clock)
    const metrics = deliveryMetrics({
      operation: options.operation,
      destination: options.destination,
      ...(options.group === undefined ? {} : { group: options.group })
    })
    const counted = Stream.mapArray(stream, (chunk) => {
      let n = 0
      let last: RecordedEvent | undefined
      for (const item of chunk) {
        if (isRecorded(item)) {
          n++
          last = item
        }
      }
      if (n > 0) {
        metrics.delivered.updateUnsafe(n, context)
        const recordedAt = last?.recordedAt
        if (recordedAt !== undefined) metrics.lag.updateUnsafe(Math.max(0, clock.currentTimeMillisUnsafe() - recordedAt.getTime()), context)
      }
      return chunk
    })
    if (!spans) return Effect.succeed(counted)
    const name = consumerSpanName(options)
    return Effect.map(tracing.tracingEnabled, (enabled) =>
      enabled
        ? Stream.tap(counted, (item) =>
          isRecorded(item) ? tracing.consumerSpan(name, item.metadata, consumerAttributes(options, item)) : Effect.void
        )
        : counted)
  }))
