/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

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
  averageItemsPerSecond: Schema.Number,
  totalItems: Schema.BigInt,
  countSinceLastMeasurement: Schema.BigInt,
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
  averagePerSecond: Schema.Number,
  totalItems: Schema.BigInt,
  countSinceLastMeasurement: Schema.BigInt,
  /** An event number, or `C:<commit>/P:<prepare>` for `$all`; empty before the first checkpoint. */
  lastCheckpointedEventPosition: Schema.String,
  /** An event number, or `C:<commit>/P:<prepare>` for `$all`; empty when nothing is known. */
  lastKnownEventPosition: Schema.String,
  resolveLinks: Schema.Boolean,
  /** `-1` (the end), an event number, or `C:<commit>/P:<prepare>` for `$all`. */
  startFrom: Schema.String,
  /** Milliseconds. */
  messageTimeout: Schema.Number,
  extraStatistics: Schema.Boolean,
  maxRetryCount: Schema.Number,
  liveBufferSize: Schema.Number,
  /** The history buffer size. */
  historyBufferSize: Schema.Number,
  readBatchSize: Schema.Number,
  /** Milliseconds. */
  checkpointAfter: Schema.Number,
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
