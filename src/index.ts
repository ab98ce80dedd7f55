/**
 * effect-esdb: the Effect-native client for EventStoreDB and KurrentDB.
 *
 * @since 0.1.0
 */

/**
 * Layers that connect and provide the API services.
 *
 * @since 0.1.0
 */
export * as EventStoreDB from "./layers/EventStoreDB.ts"

/**
 * The Streams API service: append, read, `$all`, subscriptions, metadata, delete, tombstone.
 *
 * @since 0.1.0
 */
export * as Streams from "./services/Streams.ts"

/**
 * The PersistentSubscriptions API service: persistent-subscription groups on a stream or `$all`.
 *
 * @since 0.1.0
 */
export * as PersistentSubscriptions from "./services/PersistentSubscriptions.ts"

/**
 * The Projections API service: create and manage projections, read their state, result and
 * statistics, wait until one is idle.
 *
 * @since 0.1.0
 */
export * as Projections from "./services/Projections.ts"

/**
 * The Users API service: the node's internal users (create, update, delete, enable, disable,
 * details, passwords).
 *
 * @since 0.1.0
 */
export * as Users from "./services/Users.ts"

/**
 * The Operations API service: scavenges, shutdown, index merge, resignation, node priority,
 * restarting persistent subscriptions.
 *
 * @since 0.1.0
 */
export * as Operations from "./services/Operations.ts"

/**
 * The Monitoring API service: the node's statistics as a Stream.
 *
 * @since 0.1.0
 */
export * as Monitoring from "./services/Monitoring.ts"

/**
 * The Gossip API service: the cluster's members.
 *
 * @since 0.1.0
 */
export * as Gossip from "./services/Gossip.ts"

/**
 * The ServerFeatures API service: the node's version and supported methods.
 *
 * @since 0.1.0
 */
export * as ServerFeatures from "./services/ServerFeatures.ts"

/**
 * A user of the node (`Users.details`, `Users.list`).
 *
 * @since 0.1.0
 */
export { UserDetails } from "./domain/UserDetails.ts"

/**
 * A sample of a node's statistics (`Monitoring.stats`).
 *
 * @since 0.1.0
 */
export { Stats } from "./domain/Stats.ts"

/**
 * A cluster member (`Gossip.clusterInfo`).
 *
 * @since 0.1.0
 */
export { ClusterMember } from "./domain/ClusterMember.ts"

/**
 * What a node reports of itself (`ServerFeatures.get`).
 *
 * @since 0.1.0
 */
export { ServerInfo, SupportedMethod } from "./domain/ServerInfo.ts"

/**
 * What the server reports about a projection: its statistics and parsed status.
 *
 * @since 0.1.0
 */
export { ProjectionDetails } from "./domain/ProjectionDetails.ts"

/**
 * The settings of a persistent-subscription group, with the defaults a real deployment uses.
 *
 * @since 0.1.0
 */
export {
  ConsumerStrategy,
  PersistentSubscriptionSettings,
  type PersistentSubscriptionSettingsInput
} from "./domain/PersistentSubscriptionSettings.ts"

/**
 * Where a persistent-subscription group starts (given to create and update, reported by getInfo).
 *
 * @since 0.1.0
 */
export * as StartFrom from "./domain/StartFrom.ts"

/**
 * What the server reports about a persistent-subscription group.
 *
 * @since 0.1.0
 */
export { SubscriptionConnectionInfo, SubscriptionInfo, SubscriptionMeasurement } from "./domain/SubscriptionInfo.ts"

/**
 * A new event to append (`new NewEvent({...})`, `NewEvent.json`, `NewEvent.binary`).
 *
 * @since 0.1.0
 */
export { NewEvent, type NewEventInput } from "./domain/NewEvent.ts"

/**
 * An event read from the database.
 *
 * @since 0.1.0
 */
export { RecordedEvent } from "./domain/RecordedEvent.ts"

/**
 * What new and recorded events have in common (id, type, data, metadata, content type), which
 * their equality compares.
 *
 * @since 0.1.0
 */
export { type EventContent, sameContent } from "./domain/EventContent.ts"

/**
 * A filtered-subscription checkpoint.
 *
 * @since 0.1.0
 */
export { Checkpoint } from "./domain/Checkpoint.ts"

/**
 * The caught-up marker of a subscription.
 *
 * @since 0.1.0
 */
export { CaughtUp } from "./domain/CaughtUp.ts"

/**
 * Expected stream states.
 *
 * @since 0.1.0
 */
export * as StreamState from "./domain/StreamState.ts"

/**
 * Stream metadata schema and codec.
 *
 * @since 0.1.0
 */
export * as StreamMetadata from "./domain/StreamMetadata.ts"

/**
 * `$all` filters.
 *
 * @since 0.1.0
 */
export * as Filter from "./domain/Filter.ts"

/**
 * The Connection service: provided by `EventStoreDB.layer`; `reconnect` replaces the connection
 * (once, however many fibers ask at once).
 *
 * @since 0.1.0
 */
export * as Connection from "./services/Connection.ts"

/**
 * Every error a call can fail with.
 *
 * @since 0.1.0
 */
export type { CallError } from "./internal/transport/CallError.ts"

/**
 * The options of a connection and of each call, and the default retry and resume policies.
 *
 * @since 0.1.0
 */
export {
  type CallOptions,
  type ConnectionOptions,
  type Credentials,
  defaultResumeSchedule,
  defaultRetrySchedule,
  type ResumeFailure
} from "./internal/transport/Options.ts"

/**
 * How the host of a `+discover` connection string is resolved to the cluster's nodes (the
 * connection option `resolveHost`), and the default, the system resolver.
 *
 * @since 0.1.0
 */
export { type ResolveHost, resolveHostByDns } from "./internal/transport/Discovery.ts"

/**
 * Connection string parsing.
 *
 * @since 0.1.0
 */
export { type ConnectionSettings, parseConnectionString } from "./internal/ConnectionString.ts"

/**
 * Typed errors.
 *
 * @since 0.1.0
 */
export * from "./errors/index.ts"
