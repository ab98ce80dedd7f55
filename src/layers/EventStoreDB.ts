/**
 * Layers that connect to EventStoreDB/KurrentDB and provide every API service from one
 * connection.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { InvalidConnectionString } from "../errors/InvalidConnectionString.ts"
import type { ConnectionOptions } from "../internal/transport/Options.ts"
import { make as makeTransport, Transport } from "../internal/transport/Transport.ts"
import * as Connection from "../services/Connection.ts"
import * as PersistentSubscriptions from "../services/PersistentSubscriptions.ts"
import * as Projections from "../services/Projections.ts"
import * as Streams from "../services/Streams.ts"

/**
 * Everything the EventStoreDB layers provide: the four public services, `Streams`,
 * `PersistentSubscriptions`, `Projections` and `Connection`, on one connection. Nothing internal
 * is provided.
 *
 * @since 0.1.0
 * @category models
 */
export type Services =
  | Streams.Streams
  | PersistentSubscriptions.PersistentSubscriptions
  | Projections.Projections
  | Connection.Connection

/**
 * The connection (no I/O until the first call), for the services' layers. When the layer's scope
 * closes, the connection is closed for good: running reads and subscriptions fail with
 * `ConnectionClosed`, and so does every later call, at once.
 */
const layerTransport = (options: ConnectionOptions): Layer.Layer<Transport, InvalidConnectionString> =>
  Layer.effect(Transport, Effect.map(makeTransport(options), Transport.of))

/**
 * Connects with a connection string and provides every service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStoreDB, Streams } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const streams = yield* Streams.Streams
 *   return yield* streams.getCommitPosition()
 * }).pipe(Effect.provide(EventStoreDB.layer({ connectionString: "esdb://localhost:2113?tls=false" })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ConnectionOptions): Layer.Layer<Services, InvalidConnectionString> =>
  Layer.mergeAll(Streams.layer, PersistentSubscriptions.layer, Projections.layer, Connection.layer).pipe(
    Layer.provide(layerTransport(options))
  )

/**
 * Like {@link layer}, with options read from configuration, e.g.
 * `EventStoreDB.layerConfig({ connectionString: Config.Redacted("ESDB_URI") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Wrap<ConnectionOptions>
): Layer.Layer<Services, InvalidConnectionString | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layer))
