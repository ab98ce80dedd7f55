/**
 * One run of one projection: it owns the engine (a JS query in its own worker, see
 * EngineHost.ts), the cursor over its source (Source.ts), the writer of its outputs
 * (OutputWriter.ts) and its idle-checkpoint timer, and `dispose` ends all of them at once.
 *
 * The loop: read up to a batch of records after the cursor, keep those the projection looks at,
 * send them to the engine in one message, and write what each outcome asks for in order; then
 * yield the event loop and go on, or, caught up, wait for the next append. A fault (the handler's
 * throw, a limit, a write the node refuses) stops the run and frees the engine's worker. The
 * number of events per batch shrinks when the events emit a lot, so one batch writes at most about
 * `BATCH_WRITES` events; a handled event asking for more than the writer's per-event limit faults.
 *
 * @since 0.1.0
 */
import { DELETED_TB, type EventRecord, hiddenFromAll, type Store } from "../storage/Store.ts"
import { checkpointTag, type ProjectionVersion } from "./CheckpointTag.ts"
import type { WorkerInput } from "./EngineProtocol.ts"
import type { HostedEngine } from "./EngineHost.ts"
import { jsonEvent, OutputWriter, streamsOf, type WriterLimits, type WriterTarget } from "./OutputWriter.ts"
import { fromRecord } from "./ProjectionEngine.ts"
import { openCursor, type SourceCursor, type SourcePlan } from "./Source.ts"

/** Inputs per batch at most, and records looked at per batch at most. */
const BATCH_EVENTS = 64
const BATCH_RECORDS = 512
/** About how many writes one batch may make (the batch size adapts to it). */
const BATCH_WRITES = 1024
/** A checkpoint after this many handled events (the real node's CheckpointHandledThreshold). */
const CHECKPOINT_HANDLED_THRESHOLD = 4000
/** A caught-up projection writes at most one checkpoint per this many ms. */
const IDLE_CHECKPOINT_MS = 200

/**
 * A checkpoint: the position of the last record looked at and the partition states then.
 *
 * @since 0.1.0
 * @category models
 */
export interface Checkpoint {
  readonly position: number
  readonly states: ReadonlyMap<string, string>
}

/**
 * The counters a run keeps on its projection (the statistics read them after the run ends).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunCounters {
  position: number
  /** A stream source's position as a real node shows it (`$ce-c: 5`), undefined for `$all`. */
  positionText: string | undefined
  /** The same at the last checkpoint. */
  checkpointText: string | undefined
  eventsProcessed: number
  processingMs: number
  checkpoint: Checkpoint | undefined
}

/**
 * What a run needs from the registry.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunSpec {
  readonly store: Store
  readonly target: WriterTarget
  readonly version: () => ProjectionVersion
  readonly counters: RunCounters
  readonly checkpointsEnabled: boolean
  readonly oneTime: boolean
  readonly system: boolean
  readonly limits: WriterLimits
  readonly onFault: (reason: string) => void
  readonly onCompleted: () => void
  /** After each batch: a reason when the node's projection memory budget is exceeded. */
  readonly overBudget: () => string | undefined
}

/**
 * The stream a record deletes, as a real node's StreamDeletedHelper.IsStreamDeletedEvent reads
 * it: a tombstone (`$streamDeleted`) deletes its own stream (hard), a `$metadata` event in `$$x`
 * whose `$tb` is long.MaxValue deletes `x` (soft).
 */
const deletionOf = (record: EventRecord): { readonly stream: string; readonly soft: boolean } | undefined => {
  if (record.isTombstone) return { stream: record.stream, soft: false }
  if (record.eventType !== "$metadata" || !record.stream.startsWith("$$")) return undefined
  try {
    const metadata: unknown = JSON.parse(record.data.toString("utf8"))
    return typeof metadata === "object" && metadata !== null && (metadata as Record<string, unknown>)["$tb"] === DELETED_TB
      ? { stream: record.stream.slice(2), soft: true }
      : undefined
  } catch {
    return undefined
  }
}

type Step =
  | { readonly kind: "skip"; readonly record: EventRecord }
  | { readonly kind: "deleted" | "event"; readonly record: EventRecord; readonly event: EventRecord; readonly bookkeeping: boolean }

/**
 * A running projection.
 *
 * @since 0.1.0
 * @category models
 */
export class ProjectionRunner {
  readonly #spec: RunSpec
  readonly #engine: HostedEngine
  readonly #plan: SourcePlan
  #cursor: SourceCursor
  readonly #writer: OutputWriter
  readonly #own: string
  #disposed = false
  #wake: (() => void) | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #handledSinceCheckpoint = 0
  #handledUserSinceCheckpoint = 0
  #lastCheckpointAt = 0
  #eventsPerBatch = BATCH_EVENTS
  #caughtUp = false
  readonly #changedPartitions = new Set<string>()

  constructor(spec: RunSpec, engine: HostedEngine, plan: SourcePlan) {
    this.#spec = spec
    this.#engine = engine
    const from = spec.counters.checkpoint?.position ?? -1
    spec.counters.position = from
    this.#plan = plan
    this.#cursor = openCursor(spec.store, plan, from)
    spec.counters.positionText = this.#cursor.describe()
    this.#writer = new OutputWriter(spec.store, spec.target, spec.limits, from)
    this.#own = streamsOf(spec.target.name).prefix
    void this.#loop()
  }

  /** The engine (its state copies stay readable after the run ends). */
  get engine(): HostedEngine {
    return this.#engine
  }

  /** Writes done (or found already written) by this run. */
  get writes(): { readonly written: number; readonly recovered: number } {
    return { written: this.#writer.writes - this.#writer.recovered, recovered: this.#writer.recovered }
  }

  /** New records may be there. */
  wake(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  /** Has the run read everything there is to read (until the next append)? */
  get caughtUp(): boolean {
    return this.#caughtUp
  }

  /** Unsaved progress? */
  get dirty(): boolean {
    return this.#handledSinceCheckpoint > 0
  }

  /** Ends the run: the loop, the timer and the engine's worker. Idempotent. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#engine.dispose()
    this.wake()
  }

  /** Writes a checkpoint at the current position (continuous projections only). */
  writeCheckpoint(): void {
    const spec = this.#spec
    if (!spec.checkpointsEnabled) return
    const names = streamsOf(spec.target.name)
    const engine = this.#engine
    const position = spec.counters.position
    const states = new Map(spec.counters.checkpoint?.states ?? [])
    for (const partition of engine.partitions()) states.set(partition, engine.getState(partition)!)
    // a real node keeps a biState projection's shared state as partition "" (the checkpoint's data)
    const root = this.rootState() ?? ""
    if (root !== "") states.set("", root)
    const tag = checkpointTag(spec.version(), position)
    for (const partition of this.#changedPartitions) {
      if (partition === "") continue
      const state = engine.getState(partition)
      if (state !== undefined) spec.store.append(names.partitionCheckpoint(partition), { _tag: "Any" }, [jsonEvent("$Checkpoint", state, tag)])
    }
    this.#changedPartitions.clear()
    spec.store.append(names.checkpoint, { _tag: "Any" }, [jsonEvent("$ProjectionCheckpoint", root, tag)])
    spec.counters.checkpoint = { position, states }
    spec.counters.checkpointText = spec.counters.positionText
    this.#lastCheckpointAt = Date.now()
    this.#handledSinceCheckpoint = 0
    this.#handledUserSinceCheckpoint = 0
  }

  /** The root partition's state: the shared state of a `biState` projection, else partition "". */
  rootState(): string | undefined {
    if (this.#engine.definition.options.biState === true) return this.#engine.getSharedState() ?? undefined
    return this.#engine.getState("")
  }

  #fault(reason: string): void {
    if (this.#disposed) return
    this.dispose()
    this.#spec.onFault(reason)
  }

  /** Reads the next batch: the steps (every record looked at) and the engine's inputs. */
  #read(): { readonly steps: ReadonlyArray<Step>; readonly inputs: ReadonlyArray<WorkerInput> } {
    const steps: Array<Step> = []
    const inputs: Array<WorkerInput> = []
    const engine = this.#engine
    const system = this.#spec.system
    while (inputs.length < this.#eventsPerBatch && steps.length < BATCH_RECORDS) {
      const [item] = this.#cursor.next(1)
      if (item === undefined) break
      const { record, event, link } = item
      // a deleted stream: the `$deleted` notification of a `foreachStream` query (PartitionDeleted)
      const deletion = link === undefined ? deletionOf(record) : undefined
      if (deletion !== undefined && !deletion.stream.startsWith(this.#own) && engine.deletionApplies(deletion.stream)) {
        steps.push({ kind: "deleted", record, event: record, bookkeeping: false })
        inputs.push({ kind: "deleted", partition: deletion.stream, soft: deletion.soft })
      }
      // tombstones reach only the system projections (`$by_category`/`$by_event_type` index deletions)
      if ((record.isTombstone && !system) || hiddenFromAll(record) || record.stream.startsWith(this.#own)) {
        steps.push({ kind: "skip", record })
        continue
      }
      // a `fromAll` query does not see other projections' bookkeeping (their results and
      // checkpoints would otherwise wake each other for ever)
      const bookkeeping = event.stream.startsWith("$projections-")
      if (bookkeeping && engine.definition.allStreams) {
        steps.push({ kind: "skip", record })
        continue
      }
      steps.push({ kind: "event", record, event, bookkeeping })
      inputs.push({
        kind: "event",
        input: {
          event: { ...fromRecord(event), eventId: event.eventId },
          ...(link === undefined ? {} : { link: { ...fromRecord(link), eventId: link.eventId } })
        }
      })
    }
    return { steps, inputs }
  }

  async #loop(): Promise<void> {
    const spec = this.#spec
    const counters = spec.counters
    while (!this.#disposed) {
      const { steps, inputs } = this.#read()
      this.#caughtUp = steps.length === 0
      if (steps.length === 0) {
        // caught up
        if (spec.oneTime) {
          this.dispose()
          spec.onCompleted()
          return
        }
        if (spec.checkpointsEnabled && this.#handledUserSinceCheckpoint > 0) this.#idleCheckpoint()
        await new Promise<void>((resolve) => {
          this.#wake = resolve
          if (!this.#cursor.caughtUp()) this.wake()
        })
        continue
      }
      const started = performance.now()
      const answer = inputs.length === 0 ? { outcomes: [], heapBytes: 0 } : await this.#engine.run(inputs)
      if (this.#disposed) return
      const writesBefore = this.#writer.writes
      let handled = 0
      let k = 0
      try {
        for (const step of steps) {
          if (step.kind === "skip") {
            counters.position = step.record.position
            counters.positionText = this.#cursor.describe()
            continue
          }
          const outcome = answer.outcomes[k++]
          if (outcome === undefined) {
            // the engine answered part of the batch (its time was up): read on from the last record applied
            this.#cursor = openCursor(spec.store, this.#plan, counters.position)
            counters.positionText = this.#cursor.describe()
            break
          }
          if (outcome._tag === "Faulted") return this.#fault(outcome.reason)
          counters.position = step.record.position
          counters.positionText = this.#cursor.describe()
          if (outcome._tag === "Skipped") continue
          handled++
          counters.eventsProcessed++
          this.#handledSinceCheckpoint++
          if (!step.bookkeeping) this.#handledUserSinceCheckpoint++
          this.#changedPartitions.add(outcome.partition)
          // a real node drops what a `$deleted` handler emits (ProcessPartitionDeleted has no emitted events)
          const fault = this.#writer.writeOutcome(step.record.position, step.event, step.kind === "deleted" ? { ...outcome, emitted: [] } : outcome)
          if (fault !== undefined) return this.#fault(fault)
        }
        // at the end of the batch only: the state copies are the batch's last states
        if (spec.checkpointsEnabled && this.#handledSinceCheckpoint >= CHECKPOINT_HANDLED_THRESHOLD) this.writeCheckpoint()
      } catch (error) {
        // a write refused by the store (a failed log): this projection stops, the node goes on
        return this.#fault(error instanceof Error ? error.message : String(error))
      } finally {
        counters.processingMs += performance.now() - started
      }
      // the next batch takes fewer events when these wrote a lot
      const writes = this.#writer.writes - writesBefore
      const perEvent = handled === 0 ? 0 : writes / handled
      this.#eventsPerBatch = perEvent <= 0 ? BATCH_EVENTS : Math.max(1, Math.min(BATCH_EVENTS, Math.floor(BATCH_WRITES / perEvent)))
      const over = spec.overBudget()
      if (over !== undefined) return this.#fault(over)
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }

  /** Checkpoints a caught-up projection now, or once IDLE_CHECKPOINT_MS have passed since the last. */
  #idleCheckpoint(): void {
    const wait = this.#lastCheckpointAt + IDLE_CHECKPOINT_MS - Date.now()
    if (wait <= 0) return this.writeCheckpoint()
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#disposed || this.#handledUserSinceCheckpoint === 0) return
      try {
        this.writeCheckpoint()
      } catch (error) {
        this.#fault(error instanceof Error ? error.message : String(error))
      }
    }, wait)
    this.#timer.unref()
  }
}
