/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A projection's statistics as the node reports them (`Projections.getStatistics`, `list`):
 * every field of the Statistics reply, plus its `status` parsed into {@link ProjectionDetails.state},
 * {@link ProjectionDetails.enabled} and {@link ProjectionDetails.faultReason}.
 *
 * @since 0.1.0
 * @category models
 */
export class ProjectionDetails extends Schema.Class<ProjectionDetails>("effect-esdb/ProjectionDetails")({
  /** The projection's name (a GUID for a one-time projection). */
  name: Schema.String,
  effectiveName: Schema.String,
  /** `"Continuous"`, `"OneTime"` or `"Transient"`. */
  mode: Schema.String,
  /**
   * The node's status text: a state name (Running, Stopped, Faulted, Completed, ...), possibly
   * `State/CoreStatus`, with `" (Enabled)"` when stopped or faulted but enabled.
   */
  status: Schema.String,
  /** The fault reason when faulted, else empty. */
  stateReason: Schema.String,
  /** The state name alone: `status` without `/CoreStatus` and `" (Enabled)"`. */
  state: Schema.String,
  /** Whether it is enabled: running or on its way (Loading … Starting), or `" (Enabled)"` in its status. */
  enabled: Schema.Boolean,
  /** The fault reason when the state is `Faulted`. */
  faultReason: Schema.UndefinedOr(Schema.String),
  /** The definition's version (each update adds one); −1 before statistics exist. */
  version: Schema.BigInt,
  /** Its epoch (each reset starts a new one); −1 before statistics exist. */
  epoch: Schema.BigInt,
  /** The position of the last event processed (`C:<commit>/P:<prepare>` over `$all`). */
  position: Schema.String,
  /** The position of its last checkpoint, in the same form. */
  lastCheckpoint: Schema.String,
  /** Percent done (0–100). */
  progress: Schema.Number,
  eventsProcessedAfterRestart: Schema.BigInt,
  /** Milliseconds spent in its handlers. */
  coreProcessingTime: Schema.BigInt,
  writesInProgress: Schema.Number,
  readsInProgress: Schema.Number,
  partitionsCached: Schema.Number,
  checkpointStatus: Schema.String,
  bufferedEvents: Schema.BigInt,
  writePendingEventsBeforeCheckpoint: Schema.Number,
  writePendingEventsAfterCheckpoint: Schema.Number
}) {}

const ENABLED_SUFFIX = " (Enabled)"

/** States in which a projection runs, hence is enabled, without saying so in its status. */
const runningStates: ReadonlyArray<string> = ["Running", "Starting", "Preparing", "Prepared", "Loading", "Loaded"]

/**
 * Parses a status text into its state name and whether it is enabled.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseStatus = (status: string): { readonly state: string; readonly enabled: boolean } => {
  const suffixed = status.endsWith(ENABLED_SUFFIX)
  const bare = suffixed ? status.slice(0, -ENABLED_SUFFIX.length) : status
  const slash = bare.indexOf("/")
  const state = (slash < 0 ? bare : bare.slice(0, slash)).trim()
  return { state, enabled: suffixed || runningStates.includes(state) }
}

/**
 * The commit position of a `C:<commit>/P:<prepare>` position text; `undefined` for an empty or
 * other text (a projection reading one stream reports `stream: N`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const commitPositionOf = (position: string): bigint | undefined => {
  const match = /^C:(-?\d+)\/P:-?\d+$/.exec(position.trim())
  return match === null ? undefined : BigInt(match[1]!)
}
