/**
 * Shared by the PersistentSubscriptions operations: argument checks (each an InvalidArgument
 * before any call), settings to the wire and back, start positions, and the reply's
 * `SubscriptionInfo` to the Schema class.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import {
  PersistentSubscriptionSettings,
  PersistentSubscriptionSettingsFields,
  type PersistentSubscriptionSettingsInput
} from "../../domain/PersistentSubscriptionSettings.ts"
import * as StartFrom from "../../domain/StartFrom.ts"
import { SubscriptionConnectionInfo, SubscriptionInfo, SubscriptionMeasurement } from "../../domain/SubscriptionInfo.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { CreateReq_Settings, ReplayParkedReq_Options, SubscriptionInfo as WireInfo, UpdateReq_Settings } from "../../generated/persistent.ts"
import { streamIdentifier } from "../convert.ts"
import type { StreamIdentifier } from "../../generated/shared.ts"

/** The `$all` stream's name, accepted wherever a stream name selects a group's source. @internal */
export const ALL = "$all"

const UINT64_MAX = 18446744073709551615n

/** Where a stream group starts: its first event, the end (new events only), or an event number. @internal */
export type StreamFrom = StartFrom.StreamFrom

/** Where a `$all` group starts: its first event, the end, a commit position or a position. @internal */
export type AllFrom = StartFrom.AllFrom

const invalid = (reason: string) => new InvalidArgument({ reason })

/** @internal */
export const invalidArgument = invalid

/** @internal */
export const groupName = (group: string): InvalidArgument | undefined =>
  typeof group !== "string" || group.length === 0 ? invalid("The group name must be a non-empty string") : undefined

/** @internal */
export const streamName = (stream: string): InvalidArgument | undefined =>
  typeof stream !== "string" || stream.length === 0 ? invalid("The stream name must be a non-empty string") : undefined

/** A stream group's source: a stream other than `$all`. @internal */
export const streamOnly = (stream: string): InvalidArgument | undefined =>
  streamName(stream) ??
    (stream === ALL ? invalid("Use the ToAll operation for a group on $all") : undefined)

/**
 * Runs a group operation for a group on `stream`, which must name a stream (a group on `$all` has
 * its own `…ToAll` operation): the public API has no magic stream name for `$all`.
 *
 * @internal
 */
export const onStream = <A, E, R>(
  stream: string,
  operation: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidArgument, R> =>
  Effect.suspend((): Effect.Effect<A, E | InvalidArgument, R> => {
    const problem = streamOnly(stream)
    return problem === undefined ? operation() : Effect.fail(problem)
  })

/** @internal */
export const from = (value: StreamFrom | AllFrom | undefined): InvalidArgument | undefined => {
  const inRange = (n: unknown) => typeof n === "bigint" && n >= 0n && n <= UINT64_MAX
  return value === undefined || value === "start" || value === "end" || inRange(value) ||
      (typeof value === "object" && value !== null && inRange(value.commitPosition) && inRange(value.preparePosition))
    ? undefined
    : invalid(`from must be "start", "end", a bigint in 0..2^64-1 or a position, got ${String(value)}`)
}

const MAX_DURATION_MS = 2147483647
const DURATIONS = ["messageTimeout", "checkpointAfter"] as const

/** The duration settings as Durations of whole milliseconds in 0..2^31-1, or why not. */
const durations = (given: Record<string, unknown>): Record<string, unknown> | InvalidArgument => {
  const out: Record<string, unknown> = { ...given }
  for (const key of DURATIONS) {
    const value = given[key]
    if (value === undefined) continue
    const duration = Duration.fromInput(value as Duration.Input)
    const ms = Option.isSome(duration) && Duration.isFinite(duration.value) ? Duration.toMillis(duration.value) : NaN
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_DURATION_MS) {
      return invalid(`${key} must be a duration of whole milliseconds in 0..${MAX_DURATION_MS} ms, got ${String(value)}`)
    }
    out[key] = Duration.millis(ms)
  }
  return out
}

const Partial = Schema.Struct(
  Object.fromEntries(
    Object.entries(PersistentSubscriptionSettingsFields).map(([k, v]) => [k, Schema.optional(v.schema)])
  ) as { [K in keyof typeof PersistentSubscriptionSettingsFields]: Schema.optional<(typeof PersistentSubscriptionSettingsFields)[K]["schema"]> }
)
const decodePartial = Schema.decodeUnknownResult(Partial)

/**
 * Checks settings given as an object of some fields and lays them over `base`.
 *
 * @internal
 */
export const settings = (
  given: PersistentSubscriptionSettingsInput | undefined,
  base: PersistentSubscriptionSettings = new PersistentSubscriptionSettings({})
): PersistentSubscriptionSettings | InvalidArgument => {
  if (given === undefined) return base
  if (given instanceof PersistentSubscriptionSettings) {
    // an instance's durations are Durations already, but may not fit the wire's milliseconds
    const checked = durations({ messageTimeout: given.messageTimeout, checkpointAfter: given.checkpointAfter })
    return checked instanceof InvalidArgument ? checked : given
  }
  if (typeof given !== "object" || given === null) return invalid("settings must be an object")
  const known = new Set(Object.keys(PersistentSubscriptionSettingsFields))
  for (const key of Object.keys(given)) {
    if (!known.has(key)) return invalid(`Unknown persistent subscription setting '${key}'`)
  }
  const normalized = durations(given as Record<string, unknown>)
  if (normalized instanceof InvalidArgument) return normalized
  const decoded = decodePartial(normalized)
  if (Result.isFailure(decoded)) return invalid(`Invalid persistent subscription settings: ${String(decoded.failure)}`)
  const defined = Object.fromEntries(Object.entries(decoded.success).filter(([, v]) => v !== undefined))
  return new PersistentSubscriptionSettings({ ...base, ...defined })
}

const NAMED: Record<string, 0 | 1 | 2> = { DispatchToSingle: 0, RoundRobin: 1, Pinned: 2 }

/** The settings Create and Update carry alike (all but the consumer strategy). */
const sharedSettings = (s: PersistentSubscriptionSettings) => ({
  resolveLinks: s.resolveLinks,
  revision: 0n,
  extraStatistics: s.extraStatistics,
  maxRetryCount: s.maxRetryCount,
  minCheckpointCount: s.minCheckpointCount,
  maxCheckpointCount: s.maxCheckpointCount,
  maxSubscriberCount: s.maxSubscriberCount,
  liveBufferSize: s.liveBufferSize,
  readBatchSize: s.readBatchSize,
  historyBufferSize: s.historyBufferSize,
  messageTimeout: { $case: "messageTimeoutMs" as const, value: Duration.toMillis(s.messageTimeout) },
  checkpointAfter: { $case: "checkpointAfterMs" as const, value: Duration.toMillis(s.checkpointAfter) }
})

/** The Create settings (the strategy by name, and by the deprecated enum for older servers). @internal */
export const createSettings = (s: PersistentSubscriptionSettings): CreateReq_Settings => ({
  ...sharedSettings(s),
  namedConsumerStrategy: NAMED[s.consumerStrategy] ?? 1,
  consumerStrategy: s.consumerStrategy
})

/**
 * The Update settings: the protocol's Update names the strategy by the enum only, which has no
 * `PinnedByCorrelation`.
 *
 * @internal
 */
export const updateSettings = (s: PersistentSubscriptionSettings): UpdateReq_Settings | InvalidArgument => {
  const named = NAMED[s.consumerStrategy]
  if (named === undefined) {
    return invalid(
      `The consumer strategy ${s.consumerStrategy} cannot be set by an update (the protocol's Update has no such strategy); ` +
        "delete and create the group instead"
    )
  }
  return { ...sharedSettings(s), namedConsumerStrategy: named }
}

/** The settings a group reports. @internal */
export const settingsOfInfo = (info: SubscriptionInfo): PersistentSubscriptionSettings | InvalidArgument =>
  settings({
    resolveLinks: info.resolveLinks,
    extraStatistics: info.extraStatistics,
    messageTimeout: info.messageTimeout,
    maxRetryCount: info.maxRetryCount,
    minCheckpointCount: info.minCheckpointCount,
    maxCheckpointCount: info.maxCheckpointCount,
    checkpointAfter: info.checkpointAfter,
    maxSubscriberCount: info.maxSubscriberCount,
    liveBufferSize: info.liveBufferSize,
    readBatchSize: info.readBatchSize,
    historyBufferSize: info.historyBufferSize,
    consumerStrategy: info.consumerStrategy as PersistentSubscriptionSettings["consumerStrategy"]
  })

/** A group's reported start, decoded. @internal */
export const fromOfInfo = (info: SubscriptionInfo): StartFrom.StartFrom => info.startFrom

/** `stream_identifier | all` of Delete, GetInfo, ReplayParked. @internal */
export const source = (
  stream: string
): { $case: "streamIdentifier"; value: StreamIdentifier } | { $case: "all"; value: {} } =>
  stream === ALL ? { $case: "all", value: {} } : { $case: "streamIdentifier", value: streamIdentifier(stream) }

const INT64_MAX = 9223372036854775807n

/**
 * The options of ReplayParked and TruncateParked (one shape on the wire): the group, and `stopAt`
 * (a parked-stream event number, all parked events when absent); or why they are refused.
 */
export const parkedOptions = (
  stream: string,
  group: string,
  stopAt: number | bigint | undefined
): ReplayParkedReq_Options | InvalidArgument =>
  streamName(stream) ?? groupName(group) ??
    (stopAt !== undefined &&
        !((typeof stopAt === "bigint" && stopAt >= 0n && stopAt <= INT64_MAX) ||
          (Number.isSafeInteger(stopAt) && Number(stopAt) >= 0))
      ? invalid(`stopAt must be an integer in 0..2^63-1, got ${String(stopAt)}`)
      : {
        groupName: group,
        streamOption: source(stream),
        stopAtOption: stopAt === undefined ? { $case: "noLimit", value: {} } : { $case: "stopAt", value: BigInt(stopAt) }
      })

const startFromOf = (text: string): StartFrom.StartFrom => {
  const start = StartFrom.parse(text)
  // caught by getInfo and list, which fail with a GrpcError naming the unreadable info
  if (start === undefined) throw new Error(`unreadable start '${text}'`)
  return start
}

/** The reply's info as the Schema class (throws on an unreadable start). @internal */
export const toInfo = (w: WireInfo): SubscriptionInfo =>
  new SubscriptionInfo({
    eventSource: w.eventSource,
    groupName: w.groupName,
    status: w.status,
    connections: w.connections.map((c) =>
      new SubscriptionConnectionInfo({
        from: c.from,
        username: c.username,
        averageItemsPerSecond: c.averageItemsPerSecond,
        totalItems: c.totalItems,
        countSinceLastMeasurement: c.countSinceLastMeasurement,
        observedMeasurements: c.observedMeasurements.map((m) => new SubscriptionMeasurement({ key: m.key, value: m.value })),
        availableSlots: c.availableSlots,
        inFlightMessages: c.inFlightMessages,
        connectionName: c.connectionName
      })
    ),
    averagePerSecond: w.averagePerSecond,
    totalItems: w.totalItems,
    countSinceLastMeasurement: w.countSinceLastMeasurement,
    lastCheckpointedEventPosition: w.lastCheckpointedEventPosition,
    lastKnownEventPosition: w.lastKnownEventPosition,
    resolveLinks: w.resolveLinkTos,
    startFrom: startFromOf(w.startFrom),
    messageTimeout: Duration.millis(w.messageTimeoutMilliseconds),
    extraStatistics: w.extraStatistics,
    maxRetryCount: w.maxRetryCount,
    liveBufferSize: w.liveBufferSize,
    historyBufferSize: w.bufferSize,
    readBatchSize: w.readBatchSize,
    checkpointAfter: Duration.millis(w.checkPointAfterMilliseconds),
    minCheckpointCount: w.minCheckPointCount,
    maxCheckpointCount: w.maxCheckPointCount,
    readBufferCount: w.readBufferCount,
    liveBufferCount: w.liveBufferCount,
    retryBufferCount: w.retryBufferCount,
    totalInFlightMessages: w.totalInFlightMessages,
    outstandingMessagesCount: w.outstandingMessagesCount,
    consumerStrategy: w.namedConsumerStrategy,
    maxSubscriberCount: w.maxSubscriberCount,
    parkedMessageCount: w.parkedMessageCount
  })
