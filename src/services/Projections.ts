/**
 * The Projections API: creating and managing projections (queries the node runs over `$all`,
 * folding events into a state and writing results and emitted streams), reading their state,
 * result and statistics, and waiting until one has caught up.
 *
 * This module holds the interface and its service key, and `make` (internal: the layer is
 * `EventStoreDB.layer`); each operation lives in its own module
 * under `src/internal/projections/`, written against the internal `Transport`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { ProjectionDetails } from "../domain/ProjectionDetails.ts"
import type { ProjectionStateInvalid } from "../errors/ProjectionStateInvalid.ts"
import * as AwaitIdle from "../internal/projections/awaitIdle.ts"
import * as Create from "../internal/projections/create.ts"
import * as Delete from "../internal/projections/delete.ts"
import * as Disable from "../internal/projections/disable.ts"
import * as Enable from "../internal/projections/enable.ts"
import type {
  CreateProjectionError,
  DeleteProjectionError,
  ListProjectionsError,
  ProjectionError,
  RestartSubsystemError,
  TransportError
} from "../internal/projections/errors.ts"
import * as Reset from "../internal/projections/reset.ts"
import * as Restart from "../internal/projections/restartSubsystem.ts"
import * as State from "../internal/projections/state.ts"
import * as Statistics from "../internal/projections/statistics.ts"
import * as Update from "../internal/projections/update.ts"
import type { CallOptions } from "../internal/transport/Options.ts"
import type { TransportShape } from "../internal/transport/Transport.ts"

export { type AwaitIdleError, type AwaitIdleOptions, defaultAwaitIdleSchedule } from "../internal/projections/awaitIdle.ts"
export type { CreateOptions } from "../internal/projections/create.ts"
export type { DeleteOptions } from "../internal/projections/delete.ts"
export type {
  CreateProjectionError,
  DeleteProjectionError,
  ListProjectionsError,
  ProjectionError,
  RestartSubsystemError
} from "../internal/projections/errors.ts"
export type { DecodeStateOptions, StateOptions } from "../internal/projections/state.ts"
export type { ListOptions, ProjectionModeFilter } from "../internal/projections/statistics.ts"
export type { UpdateOptions } from "../internal/projections/update.ts"

/**
 * Reads a projection's state or result: as JSON (`unknown`), or decoded with the `schema` given
 * in the options (a decode failure is a ProjectionStateInvalid).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadState {
  <A>(name: string, options: State.DecodeStateOptions<A>): Effect.Effect<A, ProjectionError | ProjectionStateInvalid>
  (name: string, options?: State.StateOptions): Effect.Effect<unknown, ProjectionError>
}

/**
 * The Projections API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Projections {
  /** Creates a continuous projection (created enabled and running). */
  readonly create: (name: string, query: string, options?: Create.CreateOptions) => Effect.Effect<void, CreateProjectionError>
  /** Creates a one-time projection: it runs over `$all` once, then completes (the node names it with a new GUID). */
  readonly createOneTime: (query: string, options?: CallOptions) => Effect.Effect<void, TransportError>
  /** Creates a transient projection (not persisted; refused by servers after v26.1 as deprecated). */
  readonly createTransient: (name: string, query: string, options?: CallOptions) => Effect.Effect<void, CreateProjectionError>
  /** Replaces a projection's query, and `emitEnabled` when given (else unchanged). */
  readonly update: (name: string, query: string, options?: Update.UpdateOptions) => Effect.Effect<void, ProjectionError>
  /** Deletes a stopped or faulted projection (ProjectionWrongState while it runs), and the streams asked for. */
  readonly delete: (name: string, options?: Delete.DeleteOptions) => Effect.Effect<void, DeleteProjectionError>
  /** Starts a stopped projection again, from its last checkpoint. */
  readonly enable: (name: string, options?: CallOptions) => Effect.Effect<void, ProjectionError>
  /** Stops a projection after writing a checkpoint. */
  readonly disable: (name: string, options?: CallOptions) => Effect.Effect<void, ProjectionError>
  /** Stops a projection without writing a checkpoint. */
  readonly abort: (name: string, options?: CallOptions) => Effect.Effect<void, ProjectionError>
  /** Drops a projection's state and has it process `$all` from the start again (when enabled). */
  readonly reset: (name: string, options?: CallOptions) => Effect.Effect<void, ProjectionError>
  /** Restarts the node's projection subsystem (every running projection checkpoints and restarts). */
  readonly restartSubsystem: (options?: CallOptions) => Effect.Effect<void, RestartSubsystemError>
  /** A projection's state (root or `partition`): JSON, or decoded with `schema`. */
  readonly getState: ReadState
  /** A projection's result (root or `partition`; the state when the query has no result): JSON, or decoded with `schema`. */
  readonly getResult: ReadState
  /** One projection's statistics and status. */
  readonly getStatistics: (name: string, options?: CallOptions) => Effect.Effect<ProjectionDetails, ProjectionError>
  /** The statistics of every projection, or of those of one `mode`. */
  readonly list: (options?: Statistics.ListOptions) => Effect.Effect<ReadonlyArray<ProjectionDetails>, ListProjectionsError>
  /**
   * Waits, polling by a `Schedule`, until the projection has processed everything up to a
   * commit position (default: the end of `$all` now), and returns its statistics then; fails
   * with ProjectionFaulted when it is faulted, ProjectionIdleTimeout when the Schedule ends.
   */
  readonly awaitIdle: (
    name: string,
    options?: AwaitIdle.AwaitIdleOptions
  ) => Effect.Effect<ProjectionDetails, AwaitIdle.AwaitIdleError>
}

const readState = (
  transport: TransportShape,
  read: (transport: TransportShape, name: string, options?: State.StateOptions) => Effect.Effect<unknown, ProjectionError>
): ReadState =>
((name: string, options?: State.StateOptions & { readonly schema?: State.DecodeStateOptions<unknown>["schema"] }) => {
  const value = read(transport, name, options)
  const schema = options?.schema
  return schema === undefined
    ? value
    : Effect.flatMap(value, (json) => State.decoded(name, options?.partition, json, schema))
}) as ReadState

/**
 * The Projections service.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projections } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const projections = yield* Projections.Projections
 *   yield* projections.create("order-count", `fromAll().when({ $init: () => ({ n: 0 }), OrderPlaced: (s) => { s.n++; return s } })`)
 *   yield* projections.awaitIdle("order-count")
 *   return yield* projections.getState("order-count", { schema: Schema.Struct({ n: Schema.Number }) })
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Projections: Context.Service<Projections, Projections> = Context.Service<Projections>("effect-esdb/Projections")

/**
 * Builds the Projections service on a transport.
 * `EventStoreDB.layer` makes one per connection; the transport is internal.
 *
 * @internal
 */
export const make = (transport: TransportShape): Projections =>
  Projections.of({
    create: (name, query, options) => Create.create(transport, name, query, options),
    createOneTime: (query, options) => Create.createOneTime(transport, query, options),
    createTransient: (name, query, options) => Create.createTransient(transport, name, query, options),
    update: (name, query, options) => Update.update(transport, name, query, options),
    delete: (name, options) => Delete.deleteProjection(transport, name, options),
    enable: (name, options) => Enable.enable(transport, name, options),
    disable: (name, options) => Disable.disable(transport, name, options),
    abort: (name, options) => Disable.abort(transport, name, options),
    reset: (name, options) => Reset.reset(transport, name, options),
    restartSubsystem: (options) => Restart.restartSubsystem(transport, options),
    getState: readState(transport, State.getState),
    getResult: readState(transport, State.getResult),
    getStatistics: (name, options) => Statistics.getStatistics(transport, name, options),
    list: (options) => Statistics.list(transport, options),
    awaitIdle: (name, options) => AwaitIdle.awaitIdle(transport, name, options)
  })
