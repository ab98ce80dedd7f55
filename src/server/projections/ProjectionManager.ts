/**
 * The node's projection subsystem: the registry of the projections created through the
 * Projections service and its commands (create, update, enable, disable, abort, reset, delete,
 * restart); each running projection has a {@link ProjectionRunner} (its engine in its own worker,
 * its cursor, its writer), which reads its sources from its checkpoint and follows live appends.
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
 * User code runs in worker threads (EngineHost.ts), never on the node's event loop; a fault stops
 * its projection only and frees its worker. The projections' memory (workers, sandboxes, states)
 * is bounded node-wide by `memoryBudgetBytes`. Statuses: Running, Stopped, Aborted, Faulted (with
 * its reason), Completed (one-time, at the end of its source), with " (Enabled)" when stopped or
 * faulted but enabled. With a kept database (`--db`) the
 * projections are read back from the registry and their definitions, and a continuous projection
 * resumes from its last checkpoint.
 *
 * Longer than 500 lines because it is one state machine: every command (create, update, enable,
 * disable, reset, delete, restart) and the run lifecycle (start, stop, fault, checkpoints, the
 * memory budget) read and change the same private registry and budget, in the store's order; the
 * models of one projection are in ManagedProjection.ts.
 *
 * @since 0.1.0
 */
import type { Store } from "../storage/Store.ts"
import { checkpointTag } from "./CheckpointTag.ts"
import { type HostedEngine, localEngine, startWorkerEngine, WORKER_OVERHEAD_BYTES } from "./EngineHost.ts"
import { jsonEvent, streamsOf, textEvent } from "./OutputWriter.ts"
import {
  type CommandFailure,
  type CreateProjection,
  ManagedProjection,
  type ProjectionMode,
  type ProjectionStatistics,
  type RunAs
} from "./ManagedProjection.ts"
import { readerStrategyError } from "./ProjectionEngine.ts"
import { type Checkpoint, ProjectionRunner } from "./ProjectionRunner.ts"
import { lastPosition, onAppend, type SourcePlan, visibleEvents, wasWritten } from "./Source.ts"
import { SYSTEM_PROJECTIONS, type SystemProjection, systemProcessor } from "./SystemProjections.ts"

export {
  type CommandFailure,
  type CreateProjection,
  ManagedProjection,
  type ProjectionMode,
  type ProjectionRunState,
  type ProjectionStatistics,
  type RunAs
} from "./ManagedProjection.ts"

/**
 * The registry stream: `$ProjectionsInitialized`, `$ProjectionCreated` and `$ProjectionDeleted` (data: the name).
 *
 * @since 0.1.0
 * @category constants
 */
export const REGISTRY_STREAM = "$projections-$all"

const DEFAULT_MAX_PROJECTIONS = 256
/** The node-wide projection memory budget by default: 2 GiB. */
const DEFAULT_MEMORY_BUDGET = 2 * 1024 * 1024 * 1024
/** The node's append limit per event by default (16 MiB). */
const DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
/** Most writes one handled event may ask for, by default. */
const DEFAULT_MAX_WRITES_PER_EVENT = 1000

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
 * Options of a {@link ProjectionManager}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionManagerOptions {
  /** Per-handler time limit, ms (default the engine's 250). */
  readonly timeLimitMs?: number | undefined
  /** Most projections held at once; default 256. */
  readonly maxProjections?: number | undefined
  /**
   * Node-wide budget for projection memory, bytes (default 2 GiB): every running JS projection
   * counts its worker (16 MiB), its sandbox's heap and its partition states (kept twice: in the
   * sandbox and on the node). A projection whose batch takes the total over it faults.
   */
  readonly memoryBudgetBytes?: number | undefined
  /** Largest event a projection may emit, bytes: the node's append limit per event (default 16 MiB). */
  readonly maxEventBytes?: number | undefined
  /** Most writes one handled event may ask for (default 1000). */
  readonly maxWritesPerEvent?: number | undefined
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
  /** Ids given to transient projections (not in the registry). */
  private nextTransientId = 1_000_000_000

  constructor(store: Store, options: ProjectionManagerOptions = {}) {
    this.store = store
    this.options = options
  }

  /** Adds a projection and listens to appends (the first time). */
  private add(p: ManagedProjection): void {
    this.projections.set(p.name, p)
    this.unsubscribe ??= onAppend(this.store, () => {
      for (const q of this.projections.values()) q.runner?.wake()
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

  /** Is a user (JS) projection running? (`/info` reports the projections feature then.) */
  get userProjectionsRunning(): boolean {
    for (const p of this.projections.values()) if (p.system === undefined && p.state === "Running") return true
    return false
  }

  /** Reads the projections back from the registry and their definitions (a kept database), and starts the enabled ones. */
  load(): void {
    const names: Array<{ name: string; id: number }> = []
    for (const record of visibleEvents(this.store, REGISTRY_STREAM)) {
      const name = record.data.toString("utf8")
      const at = names.findIndex((n) => n.name === name)
      if (record.eventType === "$ProjectionCreated" && at < 0) names.push({ name, id: record.eventNumber === 0 ? 2147483646 : record.eventNumber })
      else if (record.eventType === "$ProjectionDeleted" && at >= 0) names.splice(at, 1)
    }
    for (const { name, id } of names) {
      const definition = visibleEvents(this.store, streamsOf(name).definition)
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
      p.id = id
      p.enabled = d["enabled"] === true
      p.epoch = typeof d["epoch"] === "number" ? d["epoch"] : -1
      p.version = typeof d["version"] === "number" ? d["version"] : 1
      p.checkpoint = this.readCheckpoint(p)
      for (const r of visibleEvents(this.store, streamsOf(name).emitted)) p.tracked.add(r.data.toString("utf8"))
      this.add(p)
      if (p.enabled) this.start(p)
      else p.state = "Stopped"
    }
  }

  /** The last checkpoint kept in the store, if any (and not a reset). */
  private readCheckpoint(p: ManagedProjection): Checkpoint | undefined {
    if (!p.checkpointsEnabled) return undefined
    const names = streamsOf(p.name)
    const events = visibleEvents(this.store, names.checkpoint)
    const last = events[events.length - 1]
    if (last === undefined) return undefined
    const meta = parseObject(last.customMetadata)
    const position = typeof meta?.["$c"] === "number" ? meta["$c"] : -1
    if (position < 0) return undefined
    const states = new Map<string, string>()
    if (last.data.length > 0) states.set("", last.data.toString("utf8"))
    for (const r of visibleEvents(this.store, names.partitions)) {
      const partition = r.data.toString("utf8")
      p.partitionsSeen.add(partition)
      const cp = visibleEvents(this.store, names.partitionCheckpoint(partition))
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
    if (!p.persisted) {
      p.id = this.nextTransientId++
      return
    }
    if (!wasWritten(this.store, REGISTRY_STREAM)) {
      this.store.append(REGISTRY_STREAM, { _tag: "Any" }, [jsonEvent("$ProjectionsInitialized", "")])
    }
    const written = this.store.append(REGISTRY_STREAM, { _tag: "Any" }, [textEvent("$ProjectionCreated", p.name)])
    // ProjectionManager: the projection id is the event number of its `$ProjectionCreated`
    p.id = written._tag === "Success" ? Number(written.currentRevision) : 0
    this.writeDefinition(p)
  }

  /** Changes the query (and `emitEnabled` unless undefined); a running projection restarts from its checkpoint. */
  update(name: string, query: string, emitEnabled: boolean | undefined, runAs: RunAs): CommandFailure | undefined {
    const p = this.projections.get(name)
    if (p === undefined) return { _tag: "NotFound" }
    this.stop(p, p.state === "Running")
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

  /**
   * Disable (a checkpoint is written: "Stopped") or abort (none: "Aborted", the state a real node
   * (21.10 and later) reports, ManagedProjection's AbortedState): the projection stops.
   */
  disable(name: string, writeCheckpoint: boolean): CommandFailure | undefined {
    const p = this.projections.get(name)
    if (p === undefined) return { _tag: "NotFound" }
    this.stop(p, writeCheckpoint)
    if (p.state !== "Faulted" && p.state !== "Completed") p.state = writeCheckpoint ? "Stopped" : "Aborted"
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
    p.runner = undefined
    // ManagedProjection.Reset: the version goes up and the epoch becomes it, so the events the
    // earlier epochs wrote are not this run's (EmittedStream recovery reads them as another's)
    p.version++
    p.epoch = p.version
    p.checkpoint = undefined
    p.checkpointText = undefined
    p.position = -1
    p.positionText = undefined
    // a real node's reset starts a new run: eventsProcessedAfterRestart is 0 even when stopped
    p.eventsProcessed = 0
    p.partitionsSeen.clear()
    this.writeDefinition(p)
    if (p.checkpointsEnabled) {
      this.store.append(streamsOf(p.name).checkpoint, { _tag: "Any" }, [
        jsonEvent("$ProjectionCheckpoint", "{}", checkpointTag(p.projectionVersion, -1))
      ])
    }
    if (p.enabled) this.start(p)
    else p.state = "Stopped"
    return undefined
  }

  /**
   * Deletes a stopped or faulted projection and, as asked, the streams a real node's
   * `ManagedProjection.DeleteProjectionStreams` deletes (soft deletes): with `deleteCheckpointStream`
   * the `-checkpoint` stream (continuous projections), with `deleteEmittedStreams` (and
   * `emitEnabled`) the tracked emitted streams, `-emittedstreams` and `-emittedstreams-checkpoint`
   * (EmittedStreamsDeleter) and the `-order` stream of a multi-stream query. `deleteStateStream`
   * deletes nothing there: the result and partition streams stay.
   */
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
    p.runner = undefined
    this.remove(name)
    const names = streamsOf(name)
    const remove = (stream: string) => {
      if (wasWritten(this.store, stream)) this.store.softDelete(stream, { _tag: "Any" })
    }
    if (options.deleteCheckpointStream && p.checkpointsEnabled) remove(names.checkpoint)
    if (options.deleteEmittedStreams && p.emitEnabled) {
      remove(names.order)
      for (const stream of p.tracked) remove(stream)
      remove(names.emittedCheckpoint)
      remove(names.emitted)
    }
    if (p.persisted) {
      remove(names.definition)
      this.store.append(REGISTRY_STREAM, { _tag: "Any" }, [textEvent("$ProjectionDeleted", name)])
    }
    return undefined
  }

  /** Restarts every projection (stop, then start the enabled ones from their checkpoints). */
  restart(): void {
    for (const p of this.projections.values()) {
      this.stop(p, p.state === "Running")
      if (p.enabled && p.state !== "Completed") this.start(p)
    }
  }

  /** The state of a partition as JSON text (`""` when there is none yet); partition "" of a `biState` projection is its shared state. */
  stateOf(p: ManagedProjection, partition: string): string {
    const runner = p.runner
    const live = runner === undefined ? undefined : partition === "" ? runner.rootState() : runner.engine.getState(partition)
    return live ?? p.checkpoint?.states.get(partition) ?? ""
  }

  /** The result of a partition as JSON text (the state when the query has no transform). */
  resultOf(p: ManagedProjection, partition: string): string {
    const result = p.runner?.engine.getResult(partition)
    if (result !== undefined) return result ?? ""
    return this.stateOf(p, partition)
  }

  /** The statistics of a projection. */
  statistics(p: ManagedProjection): ProjectionStatistics {
    const last = lastPosition(this.store)
    // a run reading source streams is done when caught up, whatever the log's last position
    const progress = p.state === "Completed" || p.position >= last || (p.state === "Running" && p.runner?.caughtUp === true) ? 100 : last <= 0 ? 0 : Math.floor((Math.max(p.position, 0) * 10000) / last) / 100
    return {
      name: p.name,
      mode: p.mode,
      status: p.status,
      stateReason: p.state === "Faulted" ? p.reason : "",
      epoch: p.epoch,
      version: p.version,
      // a stream source's position as a real node shows a stream tag (CheckpointTag.ToString)
      position: p.positionText ?? (p.position < 0 ? "" : `C:${p.position}/P:${p.position}`),
      lastCheckpoint: p.checkpoint === undefined ? "" : p.checkpointText ?? `C:${p.checkpoint.position}/P:${p.checkpoint.position}`,
      progress,
      eventsProcessedAfterRestart: p.eventsProcessed,
      partitionsCached: p.runner?.engine.partitions().length ?? 0,
      checkpointStatus: "",
      coreProcessingTimeMs: Math.round(p.processingMs)
    }
  }

  /** The memory the running projections hold now (workers, sandboxes, states), bytes. */
  memoryInUse(): number {
    let total = 0
    for (const p of this.projections.values()) {
      if (p.runner !== undefined) total += p.runner.engine.memoryBytes()
      // a JS projection still starting holds its worker already
      else if (p.state === "Running" && p.system === undefined) total += WORKER_OVERHEAD_BYTES
    }
    return total
  }

  /** Stops every runner (a running one with unsaved progress checkpoints first) and frees the engines. */
  close(): void {
    if (this.closed) return
    for (const p of this.projections.values()) {
      try {
        if (p.state === "Running" && p.runner?.dirty === true) p.runner.writeCheckpoint()
      } catch {
        // the log failed: nothing more can be written
      }
    }
    this.closed = true
    this.unsubscribe?.()
    this.unsubscribe = undefined
    for (const p of this.projections.values()) {
      p.starts++
      p.runner?.dispose()
    }
  }

  // -------------------------------------------------------------------------------------------
  // runs

  /** What a run of `p` reads: `$all`, or its source streams (see README.md: "Sources"). */
  private planOf(p: ManagedProjection, engine: HostedEngine): SourcePlan {
    const d = engine.query
    if (d === undefined || d.allStreams || d.catalogStream !== null || d.handlesDeletedNotifications) return { _tag: "All" }
    const streams = [...d.streams, ...d.categories.map((c) => `$ce-${c}`)]
    // without a running `$by_category` there are no `$ce-` streams: read the category's events from `$all`
    if (streams.some((s) => s.startsWith("$ce-")) && this.projections.get("$by_category")?.state !== "Running") return { _tag: "All" }
    return { _tag: "Streams", streams }
  }

  private start(p: ManagedProjection): void {
    if (this.closed) return
    p.runner?.dispose()
    p.runner = undefined
    const start = ++p.starts
    p.state = "Running"
    p.reason = ""
    p.eventsProcessed = 0
    p.position = p.checkpoint?.position ?? -1
    p.positionText = undefined
    const budget = this.options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET
    // the new worker counts from now (memoryInUse counts a starting JS projection)
    if (p.system === undefined && this.memoryInUse() > budget) return this.fault(p, this.budgetReason(budget, WORKER_OVERHEAD_BYTES))
    const started = p.system !== undefined
      ? Promise.resolve({ _tag: "Started" as const, engine: localEngine(systemProcessor(p.system)) })
      : startWorkerEngine(p.query, {
        emitEnabled: p.emitEnabled,
        ...(this.options.timeLimitMs === undefined ? {} : { timeLimitMs: this.options.timeLimitMs })
      }, p.checkpoint?.states ?? new Map())
    started.then(
      (outcome) => {
        if (p.starts !== start || this.closed) {
          if (outcome._tag === "Started") outcome.engine.dispose()
          return
        }
        if (outcome._tag === "Failed") return this.fault(p, outcome.reason)
        const engine = outcome.engine
        const refused = engine.query === undefined ? undefined : readerStrategyError(engine.query)
        if (refused !== undefined) {
          engine.dispose()
          return this.fault(p, refused)
        }
        p.runner = new ProjectionRunner({
          store: this.store,
          target: {
            name: p.name,
            version: () => p.projectionVersion,
            trackEmittedStreams: p.trackEmittedStreams,
            tracked: p.tracked,
            partitionsSeen: p.partitionsSeen,
            system: p.system !== undefined,
            resultStreamName: engine.definition.options.resultStreamName
          },
          version: () => p.projectionVersion,
          counters: p,
          checkpointsEnabled: p.checkpointsEnabled,
          oneTime: p.mode === "OneTime",
          system: p.system !== undefined,
          limits: {
            maxEventBytes: this.options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES,
            maxWritesPerEvent: this.options.maxWritesPerEvent ?? DEFAULT_MAX_WRITES_PER_EVENT
          },
          onFault: (reason) => {
            if (p.starts === start) this.fault(p, reason)
          },
          onCompleted: () => {
            if (p.starts === start) p.state = "Completed"
          },
          overBudget: () => {
            const used = this.memoryInUse()
            return used > budget ? this.budgetReason(budget, p.runner?.engine.memoryBytes() ?? 0) : undefined
          }
        }, engine, this.planOf(p, engine))
      },
      (error: unknown) => {
        if (p.starts === start) this.fault(p, error instanceof Error ? error.message : String(error))
      }
    )
  }

  private budgetReason(budget: number, holds: number): string {
    return `The node's projection memory budget of ${budget} bytes is exhausted (this projection holds ${holds} bytes)`
  }

  /** Stops the run; with `checkpoint`, writes a checkpoint at the current position first. The run's states stay readable. */
  private stop(p: ManagedProjection, checkpoint: boolean): void {
    p.starts++
    if (checkpoint && p.state === "Running" && p.runner !== undefined) p.runner.writeCheckpoint()
    p.runner?.dispose()
  }

  /** Faults a projection: its run ends and its worker is freed (the state copies stay readable). */
  private fault(p: ManagedProjection, reason: string): void {
    p.starts++
    p.runner?.dispose()
    p.state = "Faulted"
    p.reason = reason
  }

  private writeDefinition(p: ManagedProjection): void {
    if (!p.persisted) return
    this.store.append(streamsOf(p.name).definition, { _tag: "Any" }, [jsonEvent("$ProjectionUpdated", {
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
