/**
 * effect-esdb/eventsourcing: typed events, deciders with snapshots, a test kit, and projections
 * into SQL exactly once, built only on the client's public API.
 *
 * @since 0.1.0
 */

/**
 * Typed events: a codec between a Schema union of tagged event classes and the client's events.
 *
 * @since 0.1.0
 */
export * as EventCodec from "./EventCodec.ts"

/**
 * A recorded event that does not decode (unknown type, invalid data or metadata).
 *
 * @since 0.1.0
 */
export { EventDecodeError } from "./EventDecodeError.ts"

/**
 * An event that its Schema refuses to encode.
 *
 * @since 0.1.0
 */
export { EventEncodeError } from "./EventEncodeError.ts"

/**
 * A decider: `initialState`, `evolve`, `decide`.
 *
 * @since 0.1.0
 */
export * as Decider from "./Decider.ts"

/**
 * Snapshots of an aggregate's state in a snapshot stream per aggregate.
 *
 * @since 0.1.0
 */
export * as Snapshots from "./Snapshots.ts"

/**
 * A command handler: load (from a snapshot), decide, append with the expected version, retry.
 *
 * @since 0.1.0
 */
export * as CommandHandler from "./CommandHandler.ts"

/**
 * Projections into SQL, exactly once.
 *
 * @since 0.1.0
 */
export * as Projector from "./Projector.ts"

/**
 * A test kit: given events, when a command, then events or an error; without a node or
 * against one.
 *
 * @since 0.1.0
 */
export * as DeciderSpecification from "./DeciderSpecification.ts"
