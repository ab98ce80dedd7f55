/**
 * The Monitoring API: a node's statistics (process, system, storage) as a Stream of samples.
 *
 * This module holds the interface and its service key, and `make` (internal: the layer is
 * `EventStoreDB.layer`); the operation lives under `src/internal/monitoring/`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Stream from "effect/Stream"
import type { Stats } from "../domain/Stats.ts"
import * as StatsOp from "../internal/monitoring/stats.ts"
import type { TransportError } from "../internal/transport/TransportError.ts"
import type { TransportShape } from "../internal/transport/Transport.ts"

export type { StatsOptions } from "../internal/monitoring/stats.ts"

/**
 * The Monitoring API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Monitoring {
  /**
   * The node's statistics: a sample at once, then one every `refreshEvery` (the node skips a
   * tick while the previous sample was not taken). Never ends by itself: it is resumed after
   * faults under the resume policy; take what you need (`Stream.take`).
   */
  readonly stats: (refreshEvery: Duration.Input, options?: StatsOp.StatsOptions) => Stream.Stream<Stats, TransportError>
}

/**
 * The Monitoring service.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Monitoring } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const monitoring = yield* Monitoring.Monitoring
 *   return yield* monitoring.stats("1 second").pipe(
 *     Stream.map((sample) => sample.number("proc-mem")),
 *     Stream.take(3),
 *     Stream.runCollect
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Monitoring: Context.Service<Monitoring, Monitoring> = Context.Service<Monitoring>("effect-esdb/Monitoring")

/**
 * Builds the Monitoring service on a transport. `EventStoreDB.layer` makes one per connection.
 *
 * @internal
 */
export const make = (transport: TransportShape): Monitoring =>
  Monitoring.of({
    stats: (refreshEvery, options) => StatsOp.stats(transport, refreshEvery, options)
  })
