/**
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * How a group hands events to its consumers: `DispatchToSingle` (fill one consumer, then the
 * next), `RoundRobin`, `Pinned` (by stream) or `PinnedByCorrelation` (by correlation id).
 *
 * @since 0.1.0
 * @category models
 */
export const ConsumerStrategy = Schema.Literals(["DispatchToSingle", "RoundRobin", "Pinned", "PinnedByCorrelation"])

/**
 * @since 0.1.0
 * @category models
 */
export type ConsumerStrategy = typeof ConsumerStrategy.Type

const Count = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(2147483647))

/**
 * The fields of {@link PersistentSubscriptionSettings}: every setting of a group, with the
 * defaults the official clients (and so a real deployment) use. Durations are milliseconds;
 * counts are non-negative 32-bit integers.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PersistentSubscriptionSettingsFields = {
  /** Deliver the events links point to instead of the links. Default false. */
  resolveLinks: Schema.Boolean.pipe(Schema.withConstructorDefault(Effect.succeed(false))),
  /** Keep latency statistics. Default false. */
  extraStatistics: Schema.Boolean.pipe(Schema.withConstructorDefault(Effect.succeed(false))),
  /** How long a consumer has to ack an event before it is retried (ms). Default 30 000. */
  messageTimeout: Count.pipe(Schema.withConstructorDefault(Effect.succeed(30_000))),
  /** Retries before an event is parked. Default 10. */
  maxRetryCount: Count.pipe(Schema.withConstructorDefault(Effect.succeed(10))),
  /** Fewest processed events before a checkpoint is written. Default 10. */
  minCheckpointCount: Count.pipe(Schema.withConstructorDefault(Effect.succeed(10))),
  /** Processed events that force a checkpoint. Default 1000. */
  maxCheckpointCount: Count.pipe(Schema.withConstructorDefault(Effect.succeed(1000))),
  /** How often a checkpoint is written (ms). Default 2 000. */
  checkpointAfter: Count.pipe(Schema.withConstructorDefault(Effect.succeed(2_000))),
  /** Consumers allowed at once; 0 = unlimited. Default 0. */
  maxSubscriberCount: Count.pipe(Schema.withConstructorDefault(Effect.succeed(0))),
  /** Events buffered while live. Default 500. */
  liveBufferSize: Count.pipe(Schema.withConstructorDefault(Effect.succeed(500))),
  /** Events read from the store per read while catching up. Default 20. */
  readBatchSize: Count.pipe(Schema.withConstructorDefault(Effect.succeed(20))),
  /** Events buffered while catching up. Default 500. */
  historyBufferSize: Count.pipe(Schema.withConstructorDefault(Effect.succeed(500))),
  /** How events are dispatched to consumers. Default `RoundRobin`. */
  consumerStrategy: ConsumerStrategy.pipe(Schema.withConstructorDefault(Effect.succeed<ConsumerStrategy>("RoundRobin")))
}

/**
 * The settings of a persistent-subscription group. `new PersistentSubscriptionSettings({})`
 * gives the defaults; give only the settings to change.
 *
 * @example
 * ```ts
 * import { PersistentSubscriptionSettings } from "effect-esdb"
 *
 * const settings = new PersistentSubscriptionSettings({ maxRetryCount: 3, consumerStrategy: "Pinned" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class PersistentSubscriptionSettings extends Schema.Class<PersistentSubscriptionSettings>(
  "effect-esdb/PersistentSubscriptionSettings"
)(PersistentSubscriptionSettingsFields) {}

/**
 * Settings given as an instance or as a plain object of some fields.
 *
 * @since 0.1.0
 * @category models
 */
export type PersistentSubscriptionSettingsInput =
  | PersistentSubscriptionSettings
  | { readonly [K in keyof PersistentSubscriptionSettings]?: PersistentSubscriptionSettings[K] | undefined }
