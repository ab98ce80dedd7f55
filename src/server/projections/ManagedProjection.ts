/**
 * One projection as the node's projection manager holds it ({@link ManagedProjection}: its
 * definition, state, counters and runner) and the models of the commands on it: its mode and run
 * state, who runs it, what a create asks for, its statistics and why a command is refused.
 *
 * @since 0.1.0
 */
import type { ProjectionVersion } from "./CheckpointTag.ts"
import type { Checkpoint, ProjectionRunner } from "./ProjectionRunner.ts"
import type { SystemProjection } from "./SystemProjections.ts"

/**
 * How a projection runs: continuous (checkpointed, kept), one-time (kept, no checkpoints, stops
 * at the end of `$all`) or transient (neither kept nor checkpointed).
 *
 * @since 0.1.0
 * @category models
 */
export type ProjectionMode = "Continuous" | "OneTime" | "Transient"

/**
 * Where a projection is: the ManagedProjectionState names a client sees.
 *
 * @since 0.1.0
 * @category models
 */
export type ProjectionRunState = "Creating" | "Running" | "Stopped" | "Aborted" | "Faulted" | "Completed"

/**
 * Who created or last changed a projection (the definition's `runAs`).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunAs {
  readonly name: string
  readonly roles: ReadonlyArray<string>
}

/**
 * What a create asks for.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateProjection {
  readonly name: string
  readonly mode: ProjectionMode
  readonly query: string
  readonly emitEnabled: boolean
  readonly trackEmittedStreams: boolean
  readonly runAs: RunAs
  /** A system projection (native handler) instead of a JS query. */
  readonly system?: SystemProjection | undefined
}

/**
 * A projection's statistics, as the Statistics call reports them.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionStatistics {
  readonly name: string
  readonly mode: ProjectionMode
  readonly status: string
  readonly stateReason: string
  readonly epoch: number
  readonly version: number
  readonly position: string
  readonly lastCheckpoint: string
  readonly progress: number
  readonly eventsProcessedAfterRestart: number
  readonly partitionsCached: number
  readonly checkpointStatus: string
  readonly coreProcessingTimeMs: number
}

/**
 * Why a management command was refused (the handler turns these into gRPC statuses).
 *
 * - `NotFound`: no projection of that name.
 * - `Conflict`: a projection of that name exists ("Duplicate projection names : x").
 * - `OperationFailed`: the command does not apply in the projection's state (its message).
 * - `TooMany`: the node holds its maximum number of projections (ours: a real node has no limit).
 *
 * @since 0.1.0
 * @category models
 */
export type CommandFailure =
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "Conflict"; readonly message: string }
  | { readonly _tag: "OperationFailed"; readonly message: string }
  | { readonly _tag: "TooMany"; readonly max: number }


/**
 * One projection: its definition, where it is, and its runner while it runs.
 *
 * @since 0.1.0
 * @category models
 */
export class ManagedProjection {
  readonly name: string
  readonly mode: ProjectionMode
  query: string
  emitEnabled: boolean
  trackEmittedStreams: boolean
  enabled = true
  /** The projection id: the event number of its `$ProjectionCreated` in the registry (0 while unknown). */
  id = 0
  epoch = -1
  version = 1
  runAs: RunAs
  readonly system: SystemProjection | undefined
  state: ProjectionRunState = "Creating"
  reason = ""
  /** The current run (kept after a fault or a stop so that its states stay readable), if any. */
  runner: ProjectionRunner | undefined
  /** Bumped at every start: a compile that finishes for an older start is dropped. */
  starts = 0
  /** Position of the last record looked at, −1 before any; the run's counters. */
  position = -1
  positionText: string | undefined = undefined
  checkpointText: string | undefined = undefined
  eventsProcessed = 0
  processingMs = 0
  checkpoint: Checkpoint | undefined
  readonly tracked = new Set<string>()
  readonly partitionsSeen = new Set<string>()

  constructor(create: CreateProjection) {
    this.name = create.name
    this.mode = create.mode
    this.query = create.query
    this.emitEnabled = create.emitEnabled
    this.trackEmittedStreams = create.trackEmittedStreams
    this.runAs = create.runAs
    this.system = create.system
  }

  get checkpointsEnabled(): boolean {
    return this.mode === "Continuous"
  }

  get persisted(): boolean {
    return this.mode !== "Transient"
  }

  /** The tag's version: id, epoch, version. */
  get projectionVersion(): ProjectionVersion {
    return { id: this.id, epoch: Math.max(this.epoch, 0), version: this.version }
  }

  /** The status text: the state, with " (Enabled)" when stopped or faulted but enabled. */
  get status(): string {
    return (this.state === "Stopped" || this.state === "Faulted") && this.enabled ? `${this.state} (Enabled)` : this.state
  }
}
