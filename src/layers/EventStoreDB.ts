/**
 * Layers that connect to EventStoreDB/KurrentDB and provide every API service from one
 * connection.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { InvalidConnectionString } from "../errors/InvalidConnectionString.ts"
import type { ConnectionOptions } from "../internal/transport/Options.ts"
import { make as makeTransport } from "../internal/transport/Transport.ts"
import * as Connection from "../services/Connection.ts"
import * as Gossip from "../services/Gossip.ts"
import * as Monitoring from "../services/Monitoring.ts"
import * as Operations from "../services/Operations.ts"
import * as PersistentSubscriptions from "../services/PersistentSubscriptions.ts"
import * as Projections from "../services/Projections.ts"
import * as ServerFeatures from "../services/ServerFeatures.ts"
import * as Streams from "../services/Streams.ts"
import * as Users from "../services/Users.ts"

/**
 * Everything the EventStoreDB layers provide: the public services, `Streams`,
 * `PersistentSubscriptions`, `Projections`, `Users`, `Operations`, `Monitoring`, `Gossip`,
 * `ServerFeatures` and `Connection`, on one connection. Nothing internal is provided.
 *
 * @since 0.1.0
 * @category models
 */
export type Services =
  | Streams.Streams
  | PersistentSubscriptions.PersistentSubscriptions
  | Projections.Projections
  | Users.Users
  | Operations.Operations
  | Monitoring.Monitoring
  | Gossip.Gossip
  | ServerFeatures.ServerFeatures
  | Connection.Connection

/**
 * Connects with a connection string and provides every service (see {@link Services}) on one
 * connection. No I/O happens until the first call; the connection's warnings (see the
 * connection string's keys) are logged with `Effect.logWarning` when the layer is built. When the
 * layer's scope closes, the connection is closed for good: running reads and subscriptions fail
 * with `ConnectionClosed`, and so does every later call, at once.
 *
 * Each call of `layer` is a new connection: two layers (even from the same options) never share
 * one, also when one is provided inside the other.
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
  // one layer value per call, built as a whole: the services' own layers are constants, which
  // Layer memoization would share between two connections built in one MemoMap
  Layer.effectContext(Effect.gen(function*() {
    const transport = yield* makeTransport(options)
    const streams = yield* Streams.make(transport)
    return Context.make(Streams.Streams, streams).pipe(
      Context.add(PersistentSubscriptions.PersistentSubscriptions, PersistentSubscriptions.make(transport)),
      Context.add(Projections.Projections, Projections.make(transport)),
      Context.add(Users.Users, Users.make(transport)),
      Context.add(Operations.Operations, Operations.make(transport)),
      Context.add(Monitoring.Monitoring, Monitoring.make(transport)),
      Context.add(Gossip.Gossip, Gossip.make(transport)),
      Context.add(ServerFeatures.ServerFeatures, ServerFeatures.make(transport)),
      Context.add(Connection.Connection, Connection.make(transport))
    )
  }))

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
