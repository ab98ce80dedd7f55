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
 * The codecs' typed errors.
 *
 * @since 0.1.0
 */
export { EventDecodeError, EventEncodeError } from "./EventDecodeError.ts"
