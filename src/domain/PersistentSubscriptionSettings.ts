/**
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
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
 * The fields of {@link PersistentSubscriptionSettings}: every setting of a group, with the seed's
 * defaults (where the official clients differ, their default is given too). Durations are
 * `Duration`s (given as any `Duration.Input`: `"30 seconds"`, a number of milliseconds, …) of
 * whole milliseconds up to 2^31-1 ms; counts are non-negative 32-bit integers.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PersistentSubscriptionSettingsFields = {
  /** Deliver the events links point to instead of the links. Default false. */
  resolveLinks: Schema.Boolean.pipe(Schema.withConstructorDefault(Effect.succeed(false))),
  /** Keep latency statistics. Default false. */
  extraStatistics: Schema.Boolean.pipe(Schema.withConstructorDefault(Effect.succeed(false))),
  /** How long a consumer has to ack an event before it is retried. Default 30 seconds. */
  messageTimeout: Schema.Duration.pipe(Schema.withConstructorDefault(Effect.succeed(Duration.seconds(30)))),
  /** Retries before an event is parked. Default 10. */
  maxRetryCount: Count.pipe(Schema.withConstructorDefault(Effect.succeed(10))),
  /** Fewest processed events before a checkpoint is written. Default 10. */
  minCheckpointCount: Count.pipe(Schema.withConstructorDefault(Effect.succeed(10))),
  /** Processed events that force a checkpoint. Default 1000. */
  maxCheckpointCount: Count.pipe(Schema.withConstructorDefault(Effect.succeed(1000))),
  /** How often a checkpoint is written (at most). Default 2 seconds. */
  checkpointAfter: Schema.Duration.pipe(Schema.withConstructorDefault(Effect.succeed(Duration.seconds(2)))),
  /** Consumers allowed at once; 0 = unlimited. Default 0. */
  maxSubscriberCount: Count.pipe(Schema.withConstructorDefault(Effect.succeed(0))),
  /** Events buffered while live. Default 500. */
  liveBufferSize: Count.pipe(Schema.withConstructorDefault(Effect.succeed(500))),
  /** Events read from the store per read while catching up. Default 200 (the official clients: 20). */
  readBatchSize: Count.pipe(Schema.withConstructorDefault(Effect.succeed(200))),
  /** Events buffered while catching up. Default 500. */
  historyBufferSize: Count.pipe(Schema.withConstructorDefault(Effect.succeed(500))),
  /** How events are dispatched to consumers. Default `DispatchToSingle` (the official clients: `RoundRobin`). */
  consumerStrategy: ConsumerStrategy.pipe(Schema.withConstructorDefault(Effect.succeed<ConsumerStrategy>("DispatchToSingle")))
}

/**
 * The settings of a persistent-subscription group. `new PersistentSubscriptionSettings({})`
 * gives the defaults; give only the settings to change.
 *
 * @example
 * ```ts
 * import { PersistentSubscriptionSettings, type PersistentSubscriptionSettingsInput } from "effect-esdb"
 *
 * const settings = new PersistentSubscriptionSettings({ maxRetryCount: 3, consumerStrategy: "Pinned" })
 * // as a plain object, durations as any Duration.Input
 * const input: PersistentSubscriptionSettingsInput = { messageTimeout: "10 seconds", checkpointAfter: 500 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class PersistentSubscriptionSettings extends Schema.Class<PersistentSubscriptionSettings>(
  "effect-esdb/PersistentSubscriptionSettings"
)(PersistentSubscriptionSettingsFields) {}

/**
 * The settings that are durations.
 *
 * @since 0.1.0
 * @category models
 */
export type DurationSetting = "messageTimeout" | "checkpointAfter"

/**
 * Settings given as an instance or as a plain object of some fields (durations as any
 * `Duration.Input`).
 *
 * @since 0.1.0
 * @category models
 */
export type PersistentSubscriptionSettingsInput =
  | PersistentSubscriptionSettings
  | {
    readonly [K in keyof typeof PersistentSubscriptionSettingsFields]?:
      | (K extends DurationSetting ? Duration.Input : PersistentSubscriptionSettings[K])
      | undefined
  }
