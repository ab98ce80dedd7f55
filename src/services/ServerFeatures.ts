/**
 * The ServerFeatures API: the node's version and the methods (and their features) it serves.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { ServerInfo } from "../domain/ServerInfo.ts"
import * as Get from "../internal/serverfeatures/getSupportedMethods.ts"
import type { CallOptions } from "../internal/transport/Options.ts"
import type { TransportError } from "../internal/transport/TransportError.ts"
import type { TransportShape } from "../internal/transport/Transport.ts"

/**
 * The ServerFeatures API.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerFeatures {
  /** The node's version and supported methods (`reported: false` from a node without the service). */
  readonly get: (options?: CallOptions) => Effect.Effect<ServerInfo, TransportError>
}

/**
 * The ServerFeatures service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ServerFeatures } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const features = yield* ServerFeatures.ServerFeatures
 *   const info = yield* features.get()
 *   return { version: info.version, batchAppend: info.supports("streams", "batchappend") }
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const ServerFeatures: Context.Service<ServerFeatures, ServerFeatures> = Context.Service<ServerFeatures>(
  "effect-esdb/ServerFeatures"
)

/**
 * Builds the ServerFeatures service on a transport. `EventStoreDB.layer` makes one per connection.
 *
 * @internal
 */
export const make = (transport: TransportShape): ServerFeatures =>
  ServerFeatures.of({ get: (options) => Get.getSupportedMethods(transport, options) })
