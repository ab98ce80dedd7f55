/**
 * The PersistentSubscriptions API: managing persistent-subscription groups (consumer groups whose
 * checkpoints the server keeps) on a stream or on `$all`: create, update, delete, get info, list,
 * replay or truncate parked events, restart the subsystem; and consuming them: `readToStream` / `readToAll`
 * (a Stream of events with acks and nacks) and `consume` (a handler per event, with retries,
 * parking, reconnects and metrics).
 *
 * A group is addressed the same way by every operation: `…ToStream(stream, group)` for a group
 * on a stream, `…ToAll(group)` for a group on `$all`.
 *
 * This module holds the interface and its service key, and `make` (internal: the layer is
 * `EventStoreDB.layer`); each operation lives in its own module
 * under `src/internal/persistent/`, written against the internal `Transport`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { SubscriptionInfo } from "../domain/SubscriptionInfo.ts"
import * as Create from "../internal/persistent/create.ts"
import * as Delete from "../internal/persistent/delete.ts"
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
import * as validate from "../internal/persistent/settings.ts"
import type { AllFrom, StreamFrom } from "../domain/StartFrom.ts"
import * as Update from "../internal/persistent/update.ts"
import type { CallOptions } from "../internal/transport/Options.ts"
import type { TransportShape } from "../internal/transport/Transport.ts"

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
export type { TruncateParkedOptions } from "../internal/persistent/truncateParked.ts"
export type { UpdateOptions } from "../internal/persistent/update.ts"

/**
 * The PersistentSubscriptions API. Every operation on a group comes in two forms, as in the
 * official clients: `…ToStream(stream, group)` for a group on a stream and `…ToAll(group)` for a
 * group on `$all` (a `…ToStream` operation given `"$all"` fails with InvalidArgument).
 *
 * Defaults, as the seed states them: a group starts from the start, dispatches `DispatchToSingle`,
 * reads 200 events per batch while catching up, and a group on `$all` excludes system events
 * and persistent-subscription configuration (the filter `readAll` applies). The official clients
 * differ: they start at the end, with `RoundRobin`, 20 per batch and no filter.
 *
 * @since 0.1.0
 * @category models
 */
export interface PersistentSubscriptions {
  /** Creates a group on a stream. */
  readonly createToStream: (
    stream: string,
    group: string,
    options?: Create.CreateToStreamOptions
  ) => Effect.Effect<void, CreateSubscriptionError>
  /** Creates a group on `$all`, filtered like `readAll` (system events excluded by default). */
  readonly createToAll: (group: string, options?: Create.CreateToAllOptions) => Effect.Effect<void, CreateSubscriptionError>
  /** Changes a stream group's start or settings; settings not given keep their current values. */
  readonly updateToStream: (
    stream: string,
    group: string,
    options?: Update.UpdateOptions<StreamFrom>
  ) => Effect.Effect<void, SubscriptionGroupError>
  /** Changes a `$all` group's start or settings (its filter stays); settings not given keep their values. */
  readonly updateToAll: (group: string, options?: Update.UpdateOptions<AllFrom>) => Effect.Effect<void, SubscriptionGroupError>
  /** Deletes a group on a stream (its consumers are dropped; its checkpoints and parked events go with it). */
  readonly deleteToStream: (stream: string, group: string, options?: CallOptions) => Effect.Effect<void, SubscriptionGroupError>
  /** Deletes a group on `$all`. */
  readonly deleteToAll: (group: string, options?: CallOptions) => Effect.Effect<void, SubscriptionGroupError>
  /** A stream group's settings, start, positions, counters and consumers. */
  readonly getInfoToStream: (
    stream: string,
    group: string,
    options?: CallOptions
  ) => Effect.Effect<SubscriptionInfo, SubscriptionGroupError>
  /** A `$all` group's settings, start, positions, counters and consumers. */
  readonly getInfoToAll: (group: string, options?: CallOptions) => Effect.Effect<SubscriptionInfo, SubscriptionGroupError>
  /** Every group of the node. */
  readonly list: (options?: CallOptions) => Effect.Effect<ReadonlyArray<SubscriptionInfo>, ListSubscriptionsError>
  /** The groups of one stream (none: an empty array). */
  readonly listToStream: (
    stream: string,
    options?: CallOptions
  ) => Effect.Effect<ReadonlyArray<SubscriptionInfo>, ListSubscriptionsError>
  /** The groups of `$all` (none: an empty array). */
  readonly listToAll: (options?: CallOptions) => Effect.Effect<ReadonlyArray<SubscriptionInfo>, ListSubscriptionsError>
  /** Delivers a stream group's parked events again (all, or those before `stopAt`). */
  readonly replayParkedToStream: (
    stream: string,
    group: string,
    options?: ReplayParked.ReplayParkedOptions
  ) => Effect.Effect<void, SubscriptionGroupError>
  /** Delivers a `$all` group's parked events again (all, or those before `stopAt`). */
  readonly replayParkedToAll: (
    group: string,
    options?: ReplayParked.ReplayParkedOptions
  ) => Effect.Effect<void, SubscriptionGroupError>
  /**
   * Drops a stream group's parked events without delivering them: all of them, or those before
   * parked-stream event number `stopAt`. The node moves the parked stream's truncate-before
   * (`$tb`), only ever forward, and GetInfo's `parkedMessageCount` counts what is left. A node
   * older than the `TruncateParked` call answers UNIMPLEMENTED (a `GrpcError`).
   */
  readonly truncateParkedToStream: (
    stream: string,
    group: string,
    options?: TruncateParked.TruncateParkedOptions
  ) => Effect.Effect<void, SubscriptionGroupError>
  /** Drops a `$all` group's parked events without delivering them (see `truncateParkedToStream`). */
  readonly truncateParkedToAll: (
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
   * Consumes a stream's group with an Effect handler per event: bounded concurrency (ordered per
   * stream if asked), ack on success, nack `retry` on failure until `maxRetries`, then park (or
   * skip) with the error's tag and message as the reason; reconnects after drops under a
   * Schedule; interrupted, it lets the running handlers finish and sends their acks. Runs until
   * interrupted, its `timeout`, or a failure it does not reconnect after. Metrics:
   * `esdb_persistent_handled`, `_retried`, `_parked`, `_in_flight`.
   */
  readonly consumeToStream: <E, R>(
    stream: string,
    group: string,
    handler: (event: RecordedEvent) => Effect.Effect<void, E, R>,
    policy?: Consume.ConsumePolicy
  ) => Effect.Effect<never, ReadSubscriptionError | InvalidArgument, R>
  /** Consumes a `$all` group with an Effect handler per event (see `consumeToStream`). */
  readonly consumeToAll: <E, R>(
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
 *   yield* groups.createToStream("orders", "billing", { settings: { maxRetryCount: 3, messageTimeout: "10 seconds" } })
 *   const info = yield* groups.getInfoToStream("orders", "billing")
 *   return info.startFrom // "start"
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
 * `EventStoreDB.layer` makes one per connection; the transport is internal.
 *
 * @internal
 */
export const make = (transport: TransportShape): PersistentSubscriptions =>
  PersistentSubscriptions.of({
    createToStream: (stream, group, options) => Create.createToStream(transport, stream, group, options),
    createToAll: (group, options) => Create.createToAll(transport, group, options),
    updateToStream: (stream, group, options) => Update.updateToStream(transport, stream, group, options),
    updateToAll: (group, options) => Update.updateToAll(transport, group, options),
    deleteToStream: (stream, group, options) => Delete.deleteToStream(transport, stream, group, options),
    deleteToAll: (group, options) => Delete.deleteToAll(transport, group, options),
    getInfoToStream: (stream, group, options) => GetInfo.getInfoToStream(transport, stream, group, options),
    getInfoToAll: (group, options) => GetInfo.getInfoToAll(transport, group, options),
    list: (options) => List.list(transport, options),
    listToStream: (stream, options) => List.listOfStream(transport, stream, options),
    listToAll: (options) => List.listToAll(transport, options),
    replayParkedToStream: (stream, group, options) => ReplayParked.replayParkedToStream(transport, stream, group, options),
    replayParkedToAll: (group, options) => ReplayParked.replayParkedToAll(transport, group, options),
    truncateParkedToStream: (stream, group, options) =>
      TruncateParked.truncateParkedToStream(transport, stream, group, options),
    truncateParkedToAll: (group, options) => TruncateParked.truncateParkedToAll(transport, group, options),
    restartSubsystem: (options) => Restart.restartSubsystem(transport, options),
    readToStream: (stream, group, options) => Read.readToStream(transport, stream, group, options),
    readToAll: (group, options) => Read.readToAll(transport, group, options),
    consumeToStream: (stream, group, handler, policy) =>
      validate.onStream(stream, () => Consume.withTimeout(group, policy, Consume.consume(transport, stream, group, handler, policy))),
    consumeToAll: (group, handler, policy) =>
      Consume.withTimeout(group, policy, Consume.consume(transport, validate.ALL, group, handler, policy))
  })
