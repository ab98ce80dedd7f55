/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { StartFrom } from "./StartFrom.ts"

/**
 * One named measurement of a connection (with `extraStatistics`).
 *
 * @since 0.1.0
 * @category models
 */
export class SubscriptionMeasurement extends Schema.Class<SubscriptionMeasurement>("effect-esdb/SubscriptionMeasurement")({
  key: Schema.String,
  value: Schema.BigInt
}) {}

/**
 * A consumer connected to a group, as the server reports it.
 *
 * @since 0.1.0
 * @category models
 */
export class SubscriptionConnectionInfo extends Schema.Class<SubscriptionConnectionInfo>(
  "effect-esdb/SubscriptionConnectionInfo"
)({
  /** The consumer's address. */
  from: Schema.String,
  username: Schema.String,
  /** Events pushed to this consumer per second since the node's previous measurement (see `averagePerSecond`). */
  averageItemsPerSecond: Schema.Number,
  totalItems: Schema.BigInt,
  /** Events pushed to this consumer since the node's previous measurement. */
  countSinceLastMeasurement: Schema.BigInt,
  /**
   * With the group's `extraStatistics`: this consumer's push-to-ack times in milliseconds over its
   * last 1000 events (Mean, Median, Fastest, Quintile 1-5, 90%, 95%, 99%, 99.5%, 99.9%, Highest).
   */
  observedMeasurements: Schema.Array(SubscriptionMeasurement),
  /** How many more events it may have in flight. */
  availableSlots: Schema.Number,
  inFlightMessages: Schema.Number,
  connectionName: Schema.String
}) {}

/**
 * A persistent-subscription group as the server reports it (GetInfo, List): its settings, its
 * position, its counters and its connected consumers.
 *
 * @since 0.1.0
 * @category models
 */
export class SubscriptionInfo extends Schema.Class<SubscriptionInfo>("effect-esdb/SubscriptionInfo")({
  /** The stream the group reads, or `$all`. */
  eventSource: Schema.String,
  groupName: Schema.String,
  /** Flags as text: NotReady, Behind, OutstandingPageRequest, ReplayingParkedMessages, Live. */
  status: Schema.String,
  connections: Schema.Array(SubscriptionConnectionInfo),
  /**
   * Events pushed to consumers (retries included) per second, an integer, since the node's
   * previous measurement: the node measures on every GetInfo and List and once a second, so this
   * covers about the last second at most, and is 0 once the group is idle.
   */
  averagePerSecond: Schema.Number,
  totalItems: Schema.BigInt,
  /** Events pushed to consumers since the node's previous measurement. */
  countSinceLastMeasurement: Schema.BigInt,
  /** An event number, or `C:<commit>/P:<prepare>` for `$all`; empty before the first checkpoint. */
  lastCheckpointedEventPosition: Schema.String,
  /** An event number, or `C:<commit>/P:<prepare>` for `$all`; empty when nothing is known. */
  lastKnownEventPosition: Schema.String,
  resolveLinks: Schema.Boolean,
  /** Where the group started: `"start"`, `"end"`, an event number, or a position in `$all`. */
  startFrom: StartFrom,
  /** How long a consumer has to ack an event before it is retried. */
  messageTimeout: Schema.Duration,
  extraStatistics: Schema.Boolean,
  maxRetryCount: Schema.Number,
  liveBufferSize: Schema.Number,
  /** The history buffer size. */
  historyBufferSize: Schema.Number,
  readBatchSize: Schema.Number,
  /** How often the group's checkpoint is written (at most). */
  checkpointAfter: Schema.Duration,
  minCheckpointCount: Schema.Number,
  maxCheckpointCount: Schema.Number,
  readBufferCount: Schema.Number,
  liveBufferCount: Schema.BigInt,
  retryBufferCount: Schema.Number,
  totalInFlightMessages: Schema.Number,
  outstandingMessagesCount: Schema.Number,
  /** The consumer strategy's name. */
  consumerStrategy: Schema.String,
  /** 0 = unlimited. */
  maxSubscriberCount: Schema.Number,
  parkedMessageCount: Schema.BigInt
}) {}
