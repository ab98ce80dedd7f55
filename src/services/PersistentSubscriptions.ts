/**
 * The PersistentSubscriptions API: managing persistent-subscription groups (consumer groups whose
 * checkpoints the server keeps) on a stream or on `$all`: create, update, delete, get info, list,
 * replay or truncate parked events, restart the subsystem; and consuming them: `readToStream` / `readToAll`
 * (a Stream of events with acks and nacks) and `consume` (a handler per event, with retries,
 * parking, reconnects and metrics).
 *
 * This module holds the interface, `make` and `layer`; each operation lives in its own module
 * under `src/internal/persistent/`, written against the internal `Transport`. Wherever a stream
 * name selects a group (`delete`, `getInfo`, `replayParked`, `truncateParked`, `listToStream`), `"$all"` selects
 * the groups on `$all`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { SubscriptionInfo } from "../domain/SubscriptionInfo.ts"
import * as Create from "../internal/persistent/create.ts"
import { deleteGroup } from "../internal/persistent/delete.ts"
import type {
  CreateSubscriptionError,
  ListSubscriptionsError,
  ReadSubscriptionError,
  SubscriptionGroupError
} from "../internal/persistent/errors.ts"
import type { RecordedEvent } from "../domain/RecordedEvent.ts"
import type { InvalidArgument } from "../errors/InvalidArgument.ts"
import type * as Scope from "effect/Scope"
import * as GetInfo from "../internal/persistent/getInfo.ts"
import * as Consume from "../internal/persistent/consume.ts"
import * as List from "../internal/persistent/list.ts"
import * as Read from "../internal/persistent/read.ts"
import * as ReplayParked from "../internal/persistent/replayParked.ts"
import * as Restart from "../internal/persistent/restartSubsystem.ts"
import * as TruncateParked from "../internal/persistent/truncateParked.ts"
import type { AllFrom, StreamFrom } from "../internal/persistent/settings.ts"
import * as Update from "../internal/persistent/update.ts"
import type { CallOptions } from "../internal/transport/Options.ts"
import { Transport, type TransportShape } from "../internal/transport/Transport.ts"

export type { CreateToAllOptions, CreateToStreamOptions } from "../internal/persistent/create.ts"
export type {
  CreateSubscriptionError,
  ListSubscriptionsError,
  ReadSubscriptionError,
  SubscriptionGroupError
} from "../internal/persistent/errors.ts"
export type { AckTarget, NackAction, PersistentSubscription, ReadOptions } from "../internal/persistent/read.ts"
export type { ConsumePolicy } from "../internal/persistent/consume.ts"
export type { ReplayParkedOptions } from "../internal/persistent/replayParked.ts"
export type { AllFrom, StreamFrom } from "../internal/persistent/settings.ts"
export type { TruncateParkedOptions } from "../internal/persistent/truncateParked.ts"
export type { UpdateOptions } from "../internal/persistent/update.ts"

/**
 * The PersistentSubscriptions API.
 *
 * @since 0.1.0
 * @category models
 */
export interface PersistentSubscriptions {
  /** Creates a group on a stream (not `$all`: see `createToAll`). */
  readonly createToStream: (
    stream: string,
    group: string,
    options?: Create.CreateToStreamOptions
  ) => Effect.Effect<void, CreateSubscriptionError>
  /** Creates a group on `$all`, optionally filtered like `readAll`. */
  readonly createToAll: (group: string, options?: Create.CreateToAllOptions) => Effect.Effect<void, CreateSubscriptionError>
  /** Changes a stream group's start or settings; settings not given keep their current values. */
  readonly updateToStream: (
    stream: string,
    group: string,
    options?: Update.UpdateOptions<StreamFrom>
  ) => Effect.Effect<void, SubscriptionGroupError>
  /** Changes a `$all` group's start or settings (its filter stays); settings not given keep their values. */
  readonly updateToAll: (group: string, options?: Update.UpdateOptions<AllFrom>) => Effect.Effect<void, SubscriptionGroupError>
  /** Deletes a group (`stream` = `"$all"` for a group on `$all`). */
  readonly delete: (stream: string, group: string, options?: CallOptions) => Effect.Effect<void, SubscriptionGroupError>
  /** A group's settings, position, counters and consumers (`stream` = `"$all"` for `$all`). */
  readonly getInfo: (
    stream: string,
    group: string,
    options?: CallOptions
  ) => Effect.Effect<SubscriptionInfo, SubscriptionGroupError>
  /** Every group of the node. */
  readonly list: (options?: CallOptions) => Effect.Effect<ReadonlyArray<SubscriptionInfo>, ListSubscriptionsError>
  /** The groups of one stream, or of `$all` with `"$all"` (none: an empty array). */
  readonly listToStream: (
    stream: string,
    options?: CallOptions
  ) => Effect.Effect<ReadonlyArray<SubscriptionInfo>, ListSubscriptionsError>
  /** Delivers a group's parked events again (all, or the first `stopAt`). */
  readonly replayParked: (
    stream: string,
    group: string,
    options?: ReplayParked.ReplayParkedOptions
  ) => Effect.Effect<void, SubscriptionGroupError>
  /**
   * Drops a group's parked events without delivering them (`stream` = `"$all"` for `$all`): all of
   * them, or those before parked-stream event number `stopAt`. The node moves the parked stream's
   * truncate-before (`$tb`), only ever forward, and GetInfo's `parkedMessageCount` counts what is
   * left. A node older than the `TruncateParked` call answers UNIMPLEMENTED (a `GrpcError`).
   */
  readonly truncateParked: (
    stream: string,
    group: string,
    options?: TruncateParked.TruncateParkedOptions
  ) => Effect.Effect<void, SubscriptionGroupError>
  /**
   * Connects to a stream's group as a consumer, for the scope: a Stream of the events the node
   * hands this consumer (with `retryCount` and `ackId`), and `ack` / `nack`, batched and flushed
   * when the scope closes. Each run of the Stream connects again.
   */
  readonly readToStream: (
    stream: string,
    group: string,
    options?: Read.ReadOptions
  ) => Effect.Effect<Read.PersistentSubscription, InvalidArgument, Scope.Scope>
  /** Connects to a `$all` group as a consumer, for the scope (see `readToStream`). */
  readonly readToAll: (
    group: string,
    options?: Read.ReadOptions
  ) => Effect.Effect<Read.PersistentSubscription, InvalidArgument, Scope.Scope>
  /**
   * Consumes a group (on `policy.stream`, `$all` by default) with an Effect handler per event:
   * bounded concurrency (ordered per stream if asked), ack on success, nack `retry` on failure
   * until `maxRetries`, then park (or skip); reconnects after drops under a Schedule; interrupted,
   * it lets the running handlers finish and sends their acks. Runs until interrupted or a failure
   * it does not reconnect after. Metrics: `esdb_persistent_handled`, `_retried`, `_parked`,
   * `_in_flight`.
   */
  readonly consume: <E, R>(
    group: string,
    handler: (event: RecordedEvent) => Effect.Effect<void, E, R>,
    policy?: Consume.ConsumePolicy
  ) => Effect.Effect<never, ReadSubscriptionError | InvalidArgument, R>
  /** Restarts the node's persistent-subscription subsystem (every group reloads; consumers are dropped). */
  readonly restartSubsystem: (options?: CallOptions) => Effect.Effect<void, ListSubscriptionsError>
}

/**
 * The PersistentSubscriptions service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PersistentSubscriptions } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const groups = yield* PersistentSubscriptions.PersistentSubscriptions
 *   yield* groups.createToStream("orders", "billing", { settings: { maxRetryCount: 3 } })
 *   return yield* groups.getInfo("orders", "billing")
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const PersistentSubscriptions: Context.Service<PersistentSubscriptions, PersistentSubscriptions> = Context.Service<
  PersistentSubscriptions
>("effect-esdb/PersistentSubscriptions")

/**
 * Builds the PersistentSubscriptions service on a transport.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (transport: TransportShape): PersistentSubscriptions =>
  PersistentSubscriptions.of({
    createToStream: (stream, group, options) => Create.createToStream(transport, stream, group, options),
    createToAll: (group, options) => Create.createToAll(transport, group, options),
    updateToStream: (stream, group, options) => Update.updateToStream(transport, stream, group, options),
    updateToAll: (group, options) => Update.updateToAll(transport, group, options),
    delete: (stream, group, options) => deleteGroup(transport, stream, group, options),
    getInfo: (stream, group, options) => GetInfo.getInfo(transport, stream, group, options),
    list: (options) => List.list(transport, options),
    listToStream: (stream, options) => List.listToStream(transport, stream, options),
    replayParked: (stream, group, options) => ReplayParked.replayParked(transport, stream, group, options),
    truncateParked: (stream, group, options) => TruncateParked.truncateParked(transport, stream, group, options),
    restartSubsystem: (options) => Restart.restartSubsystem(transport, options),
    readToStream: (stream, group, options) => Read.readToStream(transport, stream, group, options),
    readToAll: (group, options) => Read.readToAll(transport, group, options),
    consume: (group, handler, policy) => Consume.consume(transport, group, handler, policy)
  })

/**
 * The PersistentSubscriptions service on the connection in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<PersistentSubscriptions, never, Transport> = Layer.effect(
  PersistentSubscriptions,
  Effect.map(Transport, make)
)
