/**
 * The node's projection subsystem: the projections created through the Projections service, each
 * running its query (a {@link ProjectionEngine}) asynchronously over `$all` in commit order, from
 * its checkpoint, and following live appends.
 *
 * Every write goes through the store's single writer (`Store.append` / `softDelete`), to the
 * streams PROTOCOL.md §5 names: the registry `$projections-$all` (`$ProjectionsInitialized`,
 * `$ProjectionCreated`, `$ProjectionDeleted`), the definition `$projections-<name>`
 * (`$ProjectionUpdated`), results (`$projections-<name>-result` or `resultStreamName`, type
 * `Result`; a partition's in `$projections-<name>-<partition>-result`, linked from the main result
 * stream), checkpoints (`-checkpoint`, `$ProjectionCheckpoint`; a partition's state in
 * `$projections-<name>-<partition>-checkpoint`, `$Checkpoint`), new partitions (`-partitions`,
 * `$partition`), emitted events (with `emitEnabled`) and their tracking (`-emittedstreams`,
 * `$StreamTracked`, with `trackEmittedStreams`).
 *
 * Engines run in small batches (a few events or a few milliseconds, then `setImmediate`), so the
 * event loop is never held longer than one handler call; a fault stops its projection only.
 * Statuses: Running, Stopped, Faulted (with its reason), Completed (one-time, at the end of `$all`),
 * with " (Enabled)" when stopped or faulted but enabled. With a kept database (`--db`) the
 * projections are read back from the registry and their definitions, and a continuous projection
 * resumes from its last checkpoint.
 *
 * @since 0.1.0
 */
import { newUuid } from "../codec/Uuid.ts"
import type { LogCursor } from "../storage/LogCursor.ts"
import { DELETED_TB, type EventRecord, type ProposedEvent, type Store } from "../storage/Store.ts"
import { compileProjection, fromRecord, type ProcessOutcome, type ProjectionEngine, readerStrategyError } from "./ProjectionEngine.ts"
import { type Processor, SYSTEM_PROJECTIONS, type SystemProjection, systemProcessor } from "./SystemProjections.ts"

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
export type ProjectionRunState = "Creating" | "Running" | "Stopped" | "Faulted" | "Completed"

/**
 * The registry stream: `$ProjectionsInitialized`, `$ProjectionCreated` and `$ProjectionDeleted` (data: the name).
 *
 * @since 0.1.0
 * @category constants
 */
export const REGISTRY_STREAM = "$projections-$all"

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

/** A checkpoint: the position of the last record processed and the partition states then. */
interface Checkpoint {
  readonly position: number
  readonly states: ReadonlyMap<string, string>
}

/** Events per batch and time per batch before the runner yields the event loop. */
const BATCH_EVENTS = 64
const BATCH_MS = 5
/** A checkpoint after this many handled events (the real node's CheckpointHandledThreshold). */
const CHECKPOINT_HANDLED_THRESHOLD = 4000
const DEFAULT_MAX_PROJECTIONS = 256
/** A caught-up projection writes at most one checkpoint per this many ms. */
const IDLE_CHECKPOINT_MS = 200

const utf8 = (text: string) => Buffer.from(text, "utf8")

const json = (eventType: string, data: unknown, metadata?: unknown): ProposedEvent => ({
  eventId: newUuid(),
  eventType,
  isJson: true,
  data: utf8(typeof data === "string" ? data : JSON.stringify(data)),
  customMetadata: metadata === undefined ? Buffer.alloc(0) : utf8(JSON.stringify(metadata))
})

const text = (eventType: string, data: string, metadata?: unknown): ProposedEvent => ({
  ...json(eventType, "", metadata),
  isJson: false,
  data: utf8(data)
})

const parseObject = (bytes: Buffer): Record<string, unknown> | undefined => {
  if (bytes.length === 0) return undefined
  try {
    const value: unknown = JSON.parse(bytes.toString("utf8"))
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/**
 * The stream a record deletes, as a real node's StreamDeletedHelper.IsStreamDeletedEvent reads
 * it: a tombstone (`$streamDeleted`) deletes its own stream (hard), a `$metadata` event in `$$x`
 * whose `$tb` is long.MaxValue deletes `x` (soft).
 */
const deletionOf = (record: EventRecord): { readonly stream: string; readonly soft: boolean } | undefined => {
  if (record.isTombstone) return { stream: record.stream, soft: false }
  if (record.eventType !== "$metadata" || !record.stream.startsWith("$$")) return undefined
  const metadata = parseObject(record.data)
  return metadata?.["$tb"] === DELETED_TB ? { stream: record.stream.slice(2), soft: true } : undefined
}

/** The `$correlationId` of a JSON record's metadata, if a string (EventProcessedResult reads it only when `IsJson`). */
const correlationIdOf = (record: EventRecord): string | undefined => {
  if (!record.isJson) return undefined
  const id = parseObject(record.customMetadata)?.["$correlationId"]
  return typeof id === "string" ? id : undefined
}

/** Stream names of one projection (ProjectionNamesBuilder). */
const streamsOf = (name: string) => ({
  definition: `$projections-${name}`,
  result: `$projections-${name}-result`,
  partitionResult: (partition: string) => `$projections-${name}-${partition}-result`,
  checkpoint: `$projections-${name}-checkpoint`,
  partitionCheckpoint: (partition: string) => `$projections-${name}-${partition}-checkpoint`,
  state: `$projections-${name}-state`,
  emitted: `$projections-${name}-emittedstreams`,
  order: `$projections-${name}-order`,
  partitions: `$projections-${name}-partitions`,
  prefix: `$projections-${name}-`
})

/**
 * One projection: its definition, where its runner is, and its engine.
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
  epoch = -1
  version = 1
  runAs: RunAs
  readonly system: SystemProjection | undefined
  state: ProjectionRunState = "Creating"
  reason = ""
  engine: Processor | undefined
  /** Where in `$all` the projection reads next (set when it starts). */
  cursor: LogCursor | undefined
  /** Position of the last record looked at, −1 before any. */
  position = -1
  checkpoint: Checkpoint | undefined
  eventsProcessed = 0
  handledSinceCheckpoint = 0
  /** Handled events outside `$projections-` streams since the last checkpoint (an idle checkpoint needs one). */
  handledUserSinceCheckpoint = 0
  processingMs = 0
  /** When the last checkpoint was written (ms since epoch), and the pending idle checkpoint's timer. */
  lastCheckpointAt = 0
  checkpointTimer: ReturnType<typeof setTimeout> | undefined
  /** Bumped whenever the runner is stopped: a stale compile or batch sees it and ends. */
  generation = 0
  scheduled = false
  readonly tracked = new Set<string>()
  readonly partitionsSeen = new Set<string>()
  readonly lastResults = new Map<string, string | null>()
  readonly changedPartitions = new Set<string>()

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

  /** The status text: the state, with " (Enabled)" when stopped or faulted but enabled. */
  get status(): string {
    return (this.state === "Stopped" || this.state === "Faulted") && this.enabled ? `${this.state} (Enabled)` : this.state
  }
}

/**
 * Options of a {@link ProjectionManager}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionManagerOptions {
  /** Per-handler time limit, ms (default the engine's 250). */
  readonly timeLimitMs?: number | undefined
  /** Most projections held at once (each has its own sandbox); default 256. */
  readonly maxProjections?: number | undefined
}

/**
 * The projection subsystem of one node.
 *
 * @since 0.1.0
 * @category models
 */
export class ProjectionManager {
  private readonly store: Store
  private readonly options: ProjectionManagerOptions
  private readonly projections = new Map<string, ManagedProjection>()
  /** The store's `$all` listener, registered while the node holds projections. */
  private unsubscribe: (() => void) | undefined
  private closed = false

  constructor(store: Store, options: ProjectionManagerOptions = {}) {
    this.store = store
    this.options = options
  }

  /** Adds a projection and listens to appends (the first time). */
  private add(p: ManagedProjection): void {
    this.projections.set(p.name, p)
    this.unsubscribe ??= this.store.onAppendAll(() => {
      for (const q of this.projections.values()) this.schedule(q)
    })
  }

  /** Removes a projection; with none left, stops listening. */
  private remove(name: string): void {
    this.projections.delete(name)
    if (this.projections.size === 0 && this.unsubscribe !== undefined) {
      this.unsubscribe()
      this.unsubscribe = undefined
    }
  }

  /** Every projection, in creation order. */
  all(): ReadonlyArray<ManagedProjection> {
    return [...this.projections.values()]
  }

  /** A projection by name. */
  get(name: string): ManagedProjection | undefined {
    return this.projections.get(name)
  }

  /** Reads the projections back from the registry and their definitions (a kept database), and starts the enabled ones. */
  load(): void {
    const names: Array<string> = []
    for (const record of this.visible(REGISTRY_STREAM)) {
      const name = record.data.toString("utf8")
      const at = names.indexOf(name)
      if (record.eventType === "$ProjectionCreated" && at < 0) names.push(name)
      else if (record.eventType === "$ProjectionDeleted" && at >= 0) names.splice(at, 1)
    }
    for (const name of names) {
      const definition = this.visible(streamsOf(name).definition)
      const last = definition[definition.length - 1]
      const d = last === undefined ? undefined : parseObject(last.data)
      if (d === undefined || typeof d["query"] !== "string") continue
      const mode: ProjectionMode = d["mode"] === "OneTime" ? "OneTime" : "Continuous"
      const runAs = d["runAs"] as { name?: unknown; roles?: unknown } | undefined
      const p = new ManagedProjection({
        name,
        mode,
        query: d["query"],
        emitEnabled: d["emitEnabled"] === true,
        trackEmittedStreams: d["trackEmittedStreams"] === true,
        runAs: {
          name: typeof runAs?.name === "string" ? runAs.name : "system",
          roles: Array.isArray(runAs?.roles) ? runAs.roles.filter((r): r is string => typeof r === "string") : []
        },
        system: SYSTEM_PROJECTIONS.find((sp) => sp.name === name)
      })
      p.enabled = d["enabled"] === true
      p.epoch = typeof d["epoch"] === "number" ? d["epoch"] : -1
      p.version = typeof d["version"] === "number" ? d["version"] : 1
      p.checkpoint = this.readCheckpoint(p)
      for (const r of this.visible(streamsOf(name).emitted)) p.tracked.add(r.data.toString("utf8"))
      this.add(p)
      if (p.enabled) this.start(p)
      else p.state = "Stopped"
    }
  }

  /** The events of a stream a read would see now (none when missing or deleted). */
  private visible(stream: string): ReadonlyArray<EventRecord> {
    const view = this.store.view(stream)
    if (view._tag !== "Ok") return []
    const events: Array<EventRecord> = []
    for (let n = view.first; n <= view.last; n++) events.push(view.event(n))
    return events
  }

  /** The last checkpoint kept in the store, if any (and not a reset). */
  private readCheckpoint(p: ManagedProjection): Checkpoint | undefined {
    if (!p.checkpointsEnabled) return undefined
    const names = streamsOf(p.name)
    const events = this.visible(names.checkpoint)
    const last = events[events.length - 1]
    if (last === undefined) return undefined
    const meta = parseObject(last.customMetadata)
    const position = typeof meta?.["$c"] === "number" ? meta["$c"] : -1
    if (position < 0) return undefined
    const states = new Map<string, string>()
    if (last.data.length > 0) states.set("", last.data.toString("utf8"))
    for (const r of this.visible(names.partitions)) {
      const partition = r.data.toString("utf8")
      p.partitionsSeen.add(partition)
      const cp = this.visible(names.partitionCheckpoint(partition))
      const lastCp = cp[cp.length - 1]
      if (lastCp !== undefined) states.set(partition, lastCp.data.toString("utf8"))
    }
    return { position, states }
  }

  /** Creates (and starts) a projection; a second one with the same name is a Conflict. */
  create(create: CreateProjection): CommandFailure | undefined {
    if (this.projections.has(create.name)) {
      return { _tag: "Conflict", message: `Duplicate projection names : ${create.name}` }
    }
    const max = this.options.maxProjections ?? DEFAULT_MAX_PROJECTIONS
    if (this.projections.size >= max) return { _tag: "TooMany", max }
    const p = new ManagedProjection(create)
    this.add(p)
    this.register(p)
    this.start(p)
    return undefined
  }

  /**
   * Creates the system projections that do not exist yet (a real node's RunProjections), enabled
   * and running when `start` (StartStandardProjections), else stopped.
   */
  createSystemProjections(start: boolean): void {
    for (const system of SYSTEM_PROJECTIONS) {
      if (this.projections.has(system.name)) continue
      const p = new ManagedProjection({
        name: system.name,
        mode: "Continuous",
        query: system.query,
        emitEnabled: true,
        trackEmittedStreams: false,
        runAs: { name: "system", roles: ["$admins", "$system"] },
        system
      })
      p.enabled = start
      this.add(p)
      this.register(p)
      if (start) this.start(p)
      else p.state = "Stopped"
    }
  }

  /** Writes the registry's `$ProjectionCreated` (after `$ProjectionsInitialized` the first time) and the definition. */
  private register(p: ManagedProjection): void {
    if (!p.persisted) return
    if (!this.store.hasDecidedEvents(REGISTRY_STREAM)) {
      this.store.append(REGISTRY_STREAM, { _tag: "Any" }, [json("$ProjectionsInitialized", "")])
    }
    this.store.append(REGISTRY_STREAM, { _tag: "Any" }, [text("$ProjectionCreated", p.name)])
    this.writeDefinition(p)
  }

  /** Changes the query (and `emitEnabled` unless undefined); a running projection restarts from its checkpoint. */
  update(name: string, query: string, emitEnabled: boolean | undefined, runAs: RunAs): CommandFailure | undefined {
    const p = this.projections.get(name)
    if (p === undefined) return { _tag: "NotFound" }
    const wasRunning = p.state === "Running"
    this.stop(p, wasRunning)
    p.query = query
    if (emitEnabled !== undefined) p.emitEnabled = emitEnabled
    p.runAs = runAs
    p.version++
    this.writeDefinition(p)
    if (p.enabled) this.start(p)
    else p.state = "Stopped"
    return undefined
  }

  /** Enables and starts a projection (from its checkpoint). */
  enable(name: string): CommandFailure | undefined {
    const p = this.projections.get(name)
    if (p === undefined) return { _tag: "NotFound" }
    if (p.state === "Running" && p.enabled) return undefined
    p.enabled = true
    this.writeDefinition(p)
    this.start(p)
    return undefined
  }

  /** Disable (a checkpoint is written) or abort (none): the projection stops. */
  disable(name: string, writeCheckpoint: boolean): CommandFailure | undefined {
    const p = this.projections.get(name)
    if (p === undefined) return { _tag: "NotFound" }
    this.stop(p, writeCheckpoint)
    if (p.state !== "Faulted" && p.state !== "Completed") p.state = "Stopped"
    if (p.enabled) {
      p.enabled = false
      this.writeDefinition(p)
    }
    return undefined
  }

  /** Starts over: a new epoch, no checkpoint, every state dropped; restarts if enabled. */
  reset(name: string): CommandFailure | undefined {
    const p = this.projections.get(name)
    if (p === undefined) return { _tag: "NotFound" }
    this.stop(p, false)
    p.epoch = p.version
    p.version++
    p.checkpoint = undefined
    p.partitionsSeen.clear()
    p.lastResults.clear()
    this.writeDefinition(p)
    if (p.checkpointsEnabled) {
      this.store.append(streamsOf(p.name).checkpoint, { _tag: "Any" }, [json("$ProjectionCheckpoint", "{}", { "$v": this.tag(p), "$c": -1, "$p": -1 })])
    }
    this.dispose(p)
    if (p.enabled) this.start(p)
    else p.state = "Stopped"
    return undefined
  }

  /** Deletes a stopped or faulted projection, and the streams asked for. */
  delete(
    name: string,
    options: { readonly deleteEmittedStreams: boolean; readonly deleteStateStream: boolean; readonly deleteCheckpointStream: boolean }
  ): CommandFailure | undefined {
    const p = this.projections.get(name)
    if (p === undefined) return { _tag: "NotFound" }
    if (p.system !== undefined) return { _tag: "OperationFailed", message: "Cannot delete a system projection" }
    if (p.state !== "Stopped" && p.state !== "Faulted") {
      return { _tag: "OperationFailed", message: "Cannot delete a projection that hasn't been stopped or faulted." }
    }
    this.stop(p, false)
    this.dispose(p)
    this.remove(name)
    const names = streamsOf(name)
    const remove = (stream: string) => {
      if (this.store.hasDecidedEvents(stream)) {
        this.store.softDelete(stream, { _tag: "Any" })
      }
    }
    if (options.deleteCheckpointStream) {
      remove(names.checkpoint)
      for (const partition of p.partitionsSeen) remove(names.partitionCheckpoint(partition))
    }
    if (options.deleteStateStream) {
      remove(names.result)
      remove(names.state)
      for (const partition of p.partitionsSeen) remove(names.partitionResult(partition))
      remove(names.partitions)
    }
    if (options.deleteEmittedStreams) {
      for (const stream of p.tracked) remove(stream)
      remove(names.emitted)
    }
    if (p.persisted) {
      remove(names.definition)
      this.store.append(REGISTRY_STREAM, { _tag: "Any" }, [text("$ProjectionDeleted", name)])
    }
    return undefined
  }

  /** Restarts every projection (stop, then start the enabled ones from their checkpoints). */
  restart(): void {
    for (const p of this.projections.values()) {
      const running = p.state === "Running"
      this.stop(p, running)
      if (p.enabled && p.state !== "Completed") this.start(p)
    }
  }

  /**
   * The root partition's state (JSON text) of a running engine: the shared state of a `biState`
   * projection (a real node caches it as partition ""), else the state of partition "".
   */
  private rootState(p: ManagedProjection): string | undefined {
    const engine = p.engine
    if (engine === undefined) return undefined
    if (engine.definition.options.biState === true) return engine.getSharedState?.() ?? undefined
    return engine.getState("")
  }

  /** The state of a partition as JSON text (`""` when there is none yet); partition "" of a `biState` projection is its shared state. */
  stateOf(p: ManagedProjection, partition: string): string {
    const live = partition === "" ? this.rootState(p) : p.engine?.getState(partition)
    return live ?? p.checkpoint?.states.get(partition) ?? ""
  }

  /** The result of a partition as JSON text (the state when the query has no transform). */
  resultOf(p: ManagedProjection, partition: string): string {
    const result = p.engine?.getResult(partition)
    if (result !== undefined) return result ?? ""
    return this.stateOf(p, partition)
  }

  /** The statistics of a projection. */
  statistics(p: ManagedProjection): ProjectionStatistics {
    const last = this.store.lastPosition
    const progress = p.state === "Completed" || p.position >= last ? 100 : last <= 0 ? 0 : Math.floor((Math.max(p.position, 0) * 10000) / last) / 100
    return {
      name: p.name,
      mode: p.mode,
      status: p.status,
      stateReason: p.state === "Faulted" ? p.reason : "",
      epoch: p.epoch,
      version: p.version,
      position: p.position < 0 ? "" : `C:${p.position}/P:${p.position}`,
      lastCheckpoint: p.checkpoint === undefined ? "" : `C:${p.checkpoint.position}/P:${p.checkpoint.position}`,
      progress,
      eventsProcessedAfterRestart: p.eventsProcessed,
      partitionsCached: p.engine?.partitions().length ?? 0,
      checkpointStatus: "",
      coreProcessingTimeMs: Math.round(p.processingMs)
    }
  }

  /** Stops every runner (a running one with unsaved progress checkpoints first) and frees the engines. */
  close(): void {
    if (this.closed) return
    for (const p of this.projections.values()) {
      try {
        if (p.handledSinceCheckpoint > 0) this.stop(p, true)
      } catch {
        // the log failed: nothing more can be written
      }
    }
    this.closed = true
    this.unsubscribe?.()
    this.unsubscribe = undefined
    for (const p of this.projections.values()) {
      p.generation++
      if (p.checkpointTimer !== undefined) clearTimeout(p.checkpointTimer)
      p.checkpointTimer = undefined
      this.dispose(p)
    }
  }

  // -------------------------------------------------------------------------------------------
  // the runner

  private start(p: ManagedProjection): void {
    if (this.closed) return
    p.generation++
    const generation = p.generation
    this.dispose(p)
    p.state = "Running"
    p.reason = ""
    p.scheduled = false
    p.eventsProcessed = 0
    p.handledSinceCheckpoint = 0
    p.handledUserSinceCheckpoint = 0
    p.lastResults.clear()
    p.changedPartitions.clear()
    const from = p.checkpoint?.position ?? -1
    p.position = from
    p.cursor = this.store.log.cursor(from < 0 ? 0 : this.store.log.indexAtOrAfter(from + 1))
    const compiled = p.system !== undefined
      ? Promise.resolve({ _tag: "Compiled" as const, engine: systemProcessor(p.system) })
      : compileProjection(p.query, {
        emitEnabled: p.emitEnabled,
        ...(this.options.timeLimitMs === undefined ? {} : { timeLimitMs: this.options.timeLimitMs })
      })
    compiled.then(
      (outcome) => {
        if (p.generation !== generation || this.closed) {
          if (outcome._tag === "Compiled") outcome.engine.dispose()
          return
        }
        if (outcome._tag === "CompileError") return this.fault(p, outcome.reason)
        const refused = p.system === undefined ? readerStrategyError((outcome.engine as ProjectionEngine).definition) : undefined
        if (refused !== undefined) {
          outcome.engine.dispose()
          return this.fault(p, refused)
        }
        p.engine = outcome.engine
        try {
          const biState = p.engine.definition.options.biState === true
          for (const [partition, state] of p.checkpoint?.states ?? []) {
            // a biState projection keeps its shared state as the root partition's (partition "")
            if (partition === "" && biState) p.engine.setSharedState?.(state)
            else p.engine.setState(partition, state)
          }
        } catch {
          return this.fault(p, "The checkpoint state is not valid JSON")
        }
        this.schedule(p)
      },
      (error: unknown) => {
        if (p.generation === generation) this.fault(p, error instanceof Error ? error.message : String(error))
      }
    )
  }

  /** Stops the runner; with `checkpoint`, writes a checkpoint at the current position first. */
  private stop(p: ManagedProjection, checkpoint: boolean): void {
    p.generation++
    p.scheduled = false
    if (checkpoint && p.state === "Running" && p.engine !== undefined) this.writeCheckpoint(p)
  }

  private dispose(p: ManagedProjection): void {
    p.engine?.dispose()
    p.engine = undefined
  }

  private schedule(p: ManagedProjection): void {
    if (p.scheduled || p.state !== "Running" || p.engine === undefined || this.closed) return
    p.scheduled = true
    const generation = p.generation
    setImmediate(() => {
      if (p.generation !== generation) return
      p.scheduled = false
      try {
        this.step(p)
      } catch (error) {
        // a write refused by the store (a failed log): this projection stops, the node goes on
        this.fault(p, error instanceof Error ? error.message : String(error))
      }
    })
  }

  /** Processes one batch; schedules the next, or waits for appends when caught up. */
  private step(p: ManagedProjection): void {
    const engine = p.engine
    if (engine === undefined || p.state !== "Running") return
    const generation = p.generation
    const started = performance.now()
    const log = this.store.log
    const cursor = p.cursor!
    const own = streamsOf(p.name).prefix
    let n = 0
    while (n < BATCH_EVENTS && performance.now() - started < BATCH_MS) {
      const record = cursor.next()
      if (record === undefined) break
      p.position = record.position
      // a deleted stream: the `$deleted` notification of a `foreachStream` query (PartitionDeleted)
      const deletion = deletionOf(record)
      if (deletion !== undefined && !deletion.stream.startsWith(own) && engine.deletionApplies?.(deletion.stream) === true) {
        const outcome = engine.processDeleted!(deletion.stream, deletion.soft)
        if (outcome._tag === "Faulted") {
          p.processingMs += performance.now() - started
          return this.fault(p, outcome.reason)
        }
        if (outcome._tag === "Processed") {
          n++
          p.eventsProcessed++
          p.handledSinceCheckpoint++
          p.handledUserSinceCheckpoint++
          // a real node drops what a `$deleted` handler emits (ProcessPartitionDeleted has no emitted events)
          this.writeOutputs(p, record, { ...outcome, emitted: [] })
          if (p.generation !== generation) return
        }
      }
      // tombstones reach only the system projections (`$by_category`/`$by_event_type` index deletions)
      if ((record.isTombstone && p.system === undefined) || record.stream.startsWith(own)) continue
      // a `fromAll` query does not see other projections' bookkeeping (their results and
      // checkpoints would otherwise wake each other for ever)
      const bookkeeping = record.stream.startsWith("$projections-")
      if (bookkeeping && engine.definition.allStreams) continue
      n++
      const outcome = engine.process({ event: { ...fromRecord(record), eventId: record.eventId } })
      if (outcome._tag === "Faulted") {
        p.processingMs += performance.now() - started
        return this.fault(p, outcome.reason)
      }
      if (outcome._tag === "Skipped") continue
      p.eventsProcessed++
      p.handledSinceCheckpoint++
      if (!bookkeeping) p.handledUserSinceCheckpoint++
      this.writeOutputs(p, record, outcome)
      if (p.generation !== generation) return
      if (p.checkpointsEnabled && p.handledSinceCheckpoint >= CHECKPOINT_HANDLED_THRESHOLD) this.writeCheckpoint(p)
    }
    p.processingMs += performance.now() - started
    if (cursor.index < log.length) return this.schedule(p)
    // caught up
    if (p.mode === "OneTime") {
      p.state = "Completed"
      p.generation++
      return
    }
    if (p.checkpointsEnabled && p.handledUserSinceCheckpoint > 0) this.idleCheckpoint(p)
  }

  /** Checkpoints a caught-up projection now, or once IDLE_CHECKPOINT_MS have passed since the last. */
  private idleCheckpoint(p: ManagedProjection): void {
    const wait = p.lastCheckpointAt + IDLE_CHECKPOINT_MS - Date.now()
    if (wait <= 0) return this.writeCheckpoint(p)
    if (p.checkpointTimer !== undefined) return
    const generation = p.generation
    p.checkpointTimer = setTimeout(() => {
      p.checkpointTimer = undefined
      if (p.generation !== generation || this.closed || p.state !== "Running" || p.handledUserSinceCheckpoint === 0) return
      try {
        this.writeCheckpoint(p)
      } catch (error) {
        this.fault(p, error instanceof Error ? error.message : String(error))
      }
    }, wait)
    p.checkpointTimer.unref()
  }

  private fault(p: ManagedProjection, reason: string): void {
    p.generation++
    p.scheduled = false
    p.state = "Faulted"
    p.reason = reason
  }

  private tag(p: ManagedProjection): string {
    return `${p.epoch}:${p.version}`
  }

  private writeOutputs(p: ManagedProjection, record: EventRecord, outcome: Extract<ProcessOutcome, { _tag: "Processed" }>): void {
    const names = streamsOf(p.name)
    const partition = outcome.partition
    const checkpointTag = { "$v": this.tag(p), "$c": record.position, "$p": record.position }
    if (partition !== "") {
      p.changedPartitions.add(partition)
      if (!p.partitionsSeen.has(partition)) {
        p.partitionsSeen.add(partition)
        this.store.append(names.partitions, { _tag: "Any" }, [text("$partition", partition, checkpointTag)])
      }
    } else {
      p.changedPartitions.add("")
    }
    for (const write of outcome.emitted) {
      const own = write.metadata === null ? undefined : (() => {
        try {
          const m: unknown = JSON.parse(write.metadata)
          return typeof m === "object" && m !== null && !Array.isArray(m) ? m as Record<string, unknown> : undefined
        } catch {
          return undefined
        }
      })()
      // as a real node's EmittedStream writes it: the checkpoint tag, the event's own metadata,
      // then `$causedBy` (the event handled) and `$correlationId` (the handled event's, if any)
      const { "$causedBy": _causedBy, "$correlationId": ownCorrelation, ...rest } = own ?? {}
      const correlationId = correlationIdOf(record) ?? ownCorrelation
      const metadata = Object.assign({
        ...checkpointTag,
        ...rest,
        "$causedBy": record.eventId,
        ...(typeof correlationId === "string" ? { "$correlationId": correlationId } : {})
      }, checkpointTag)
      if (p.trackEmittedStreams && !p.tracked.has(write.streamId)) {
        p.tracked.add(write.streamId)
        this.store.append(names.emitted, { _tag: "Any" }, [text("$StreamTracked", write.streamId)])
      }
      const event = write.isJson ? json(write.eventType, write.data, metadata) : text(write.eventType, write.data, metadata)
      const outcomeOfWrite = this.store.append(write.streamId, { _tag: "Any" }, [event])
      // a system projection passes over a deleted target (the store's old links did); a query faults
      if (outcomeOfWrite._tag === "StreamDeleted" && p.system === undefined) {
        return this.fault(p, `Stream '${write.streamId}' is deleted`)
      }
    }
    if (!("result" in outcome) || outcome.result === undefined) return
    const result = outcome.result
    if (result === null || p.lastResults.get(partition) === result) return
    p.lastResults.set(partition, result)
    const main = p.engine?.definition.options.resultStreamName ?? names.result
    if (partition === "") {
      this.store.append(main, { _tag: "Any" }, [json("Result", result, checkpointTag)])
    } else {
      const stream = names.partitionResult(partition)
      const written = this.store.append(stream, { _tag: "Any" }, [json("Result", result, checkpointTag)])
      if (written._tag === "Success") {
        this.store.append(main, { _tag: "Any" }, [text("$>", `${written.currentRevision}@${stream}`, checkpointTag)])
      }
    }
  }

  private writeCheckpoint(p: ManagedProjection): void {
    if (!p.checkpointsEnabled || p.engine === undefined) return
    const names = streamsOf(p.name)
    const engine = p.engine
    const states = new Map(p.checkpoint?.states ?? [])
    for (const partition of engine.partitions()) states.set(partition, engine.getState(partition)!)
    // a real node keeps a biState projection's shared state as partition "" (the checkpoint's data)
    const root = this.rootState(p) ?? ""
    if (root !== "") states.set("", root)
    const tag = { "$v": this.tag(p), "$c": p.position, "$p": p.position }
    for (const partition of p.changedPartitions) {
      if (partition === "") continue
      const state = engine.getState(partition)
      if (state !== undefined) this.store.append(names.partitionCheckpoint(partition), { _tag: "Any" }, [json("$Checkpoint", state, tag)])
    }
    p.changedPartitions.clear()
    this.store.append(names.checkpoint, { _tag: "Any" }, [json("$ProjectionCheckpoint", root, tag)])
    p.checkpoint = { position: p.position, states }
    p.lastCheckpointAt = Date.now()
    p.handledSinceCheckpoint = 0
    p.handledUserSinceCheckpoint = 0
  }

  private writeDefinition(p: ManagedProjection): void {
    if (!p.persisted) return
    this.store.append(streamsOf(p.name).definition, { _tag: "Any" }, [json("$ProjectionUpdated", {
      handlerType: p.system?.handlerType ?? "JS",
      query: p.query,
      mode: p.mode,
      enabled: p.enabled,
      sourceDefinition: null,
      emitEnabled: p.emitEnabled,
      createTempStreams: false,
      checkpointsDisabled: !p.checkpointsEnabled,
      epoch: p.epoch,
      version: p.version,
      runAs: p.runAs,
      trackEmittedStreams: p.trackEmittedStreams
    })])
  }
}
