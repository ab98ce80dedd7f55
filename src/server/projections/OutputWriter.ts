/**
 * What a running projection writes for each event it handled: new partitions (`-partitions`,
 * `$partition`), emitted events (`emit`, `linkTo`, `linkStreamTo`) and their tracking
 * (`-emittedstreams`, `$StreamTracked`), and results (`Result` in the result stream, or in a
 * partition's result stream linked from the main one); and its checkpoints.
 *
 * Every emitted and result event carries the checkpoint tag (CheckpointTag.ts), then the event's
 * own metadata, then `$causedBy` (the id of the event handled) and `$correlationId` (the handled
 * event's, when it has one), as KurrentDB's `EmittedStream.MetadataWithCausedByAndCorrelationId`
 * writes them; a result event gets them too (`ResultWriter.WriteRunningResult` passes the event's
 * id and correlation id to `EventsEmitted`, which stamps every scheduled write:
 * `CoreProjectionCheckpointManager.EventsEmitted`).
 *
 * Recovery, as a real node's `EmittedStream` does it (`ReadStreamEventsBackwardCompleted`,
 * `CollectAlreadyCommittedEvents`, `SubmitWriteEventsInRecoveryLoop`): the first time a runner
 * writes to a stream, it reads the stream's tail back to the last event stamped at or before the
 * checkpoint it started from (or by another epoch or projection); those events were written
 * before a crash or an abort, so the same writes, met again while the projection catches up, are
 * passed over instead of written twice. A write that differs from the one already there faults
 * the projection with the real text.
 *
 * Limits (ours; a real node has none): the store's event size limit applies to each emitted
 * event, and a handled event may ask for at most `maxWritesPerEvent` writes.
 *
 * @since 0.1.0
 */
import { newUuid } from "../codec/Uuid.ts"
import type { EventRecord, ProposedEvent, Store } from "../storage/Store.ts"
import { checkpointTag, parseTag, type ProjectionVersion } from "./CheckpointTag.ts"
import type { EmittedEvent, ProcessOutcome } from "./ProjectionEngine.ts"
import { wasWritten, writtenBackward } from "./Source.ts"

const utf8 = (text: string) => Buffer.from(text, "utf8")

/**
 * A JSON event (data given as JSON text or a value to stringify).
 *
 * @since 0.1.0
 * @category constructors
 */
export const jsonEvent = (eventType: string, data: unknown, metadata?: unknown): ProposedEvent => ({
  eventId: newUuid(),
  eventType,
  isJson: true,
  data: utf8(typeof data === "string" ? data : JSON.stringify(data)),
  customMetadata: metadata === undefined ? Buffer.alloc(0) : utf8(JSON.stringify(metadata))
})

/**
 * A non-JSON event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const textEvent = (eventType: string, data: string, metadata?: unknown): ProposedEvent => ({
  ...jsonEvent(eventType, "", metadata),
  isJson: false,
  data: utf8(data)
})

/**
 * Stream names of one projection (ProjectionNamesBuilder).
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamsOf = (name: string) => ({
  definition: `$projections-${name}`,
  result: `$projections-${name}-result`,
  partitionResult: (partition: string) => `$projections-${name}-${partition}-result`,
  checkpoint: `$projections-${name}-checkpoint`,
  partitionCheckpoint: (partition: string) => `$projections-${name}-${partition}-checkpoint`,
  state: `$projections-${name}-state`,
  emitted: `$projections-${name}-emittedstreams`,
  emittedCheckpoint: `$projections-${name}-emittedstreams-checkpoint`,
  order: `$projections-${name}-order`,
  partitions: `$projections-${name}-partitions`,
  prefix: `$projections-${name}-`
})

const parseObject = (text: string | Uint8Array): Record<string, unknown> | undefined => {
  const s = typeof text === "string" ? text : Buffer.from(text).toString("utf8")
  if (s.length === 0) return undefined
  try {
    const value: unknown = JSON.parse(s)
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/** The `$correlationId` of a JSON record's metadata, if a string (EventProcessedResult reads it only when `IsJson`). */
const correlationIdOf = (record: EventRecord): string | undefined => {
  if (!record.isJson) return undefined
  const id = parseObject(record.customMetadata)?.["$correlationId"]
  return typeof id === "string" ? id : undefined
}

/**
 * The projection a writer writes for.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriterTarget {
  readonly name: string
  readonly version: () => ProjectionVersion
  readonly trackEmittedStreams: boolean
  /** Emitted streams already tracked (`-emittedstreams`). */
  readonly tracked: Set<string>
  /** Partitions already registered (`-partitions`). */
  readonly partitionsSeen: Set<string>
  /** A system projection passes over a deleted target; a query faults. */
  readonly system: boolean
  readonly resultStreamName: string | null
}

/**
 * Limits on what one handled event may write.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriterLimits {
  /** Largest emitted event (data + metadata), bytes: the node's append limit per event. */
  readonly maxEventBytes: number
  /** Most writes (emitted events, links) one handled event may ask for. */
  readonly maxWritesPerEvent: number
}

/** An event already written, met again in recovery. */
interface Committed {
  readonly position: number
  readonly eventType: string
  readonly eventNumber: number
}

/**
 * The writer of one run of a projection.
 *
 * @since 0.1.0
 * @category models
 */
export class OutputWriter {
  readonly #store: Store
  readonly #target: WriterTarget
  readonly #limits: WriterLimits
  readonly #names: ReturnType<typeof streamsOf>
  /** The position the run started from: events stamped after it may already be written. */
  readonly #from: number
  /** Per stream, the writes found already there and not yet met again (oldest first). */
  readonly #recovery = new Map<string, Array<Committed>>()
  /** The last result written per partition (a result is written when it changes). */
  readonly #lastResults = new Map<string, string>()
  /** Writes made (or passed over in recovery) so far: the runner's per-batch bound. */
  writes = 0
  /** Events passed over because they were already written (recovery). */
  recovered = 0

  constructor(store: Store, target: WriterTarget, limits: WriterLimits, from: number) {
    this.#store = store
    this.#target = target
    this.#limits = limits
    this.#names = streamsOf(target.name)
    this.#from = from
  }

  /**
   * Writes what handling `event` (read at `position`) produced; answers a fault reason when the
   * projection must stop.
   */
  writeOutcome(position: number, event: EventRecord, outcome: Extract<ProcessOutcome, { _tag: "Processed" }>): string | undefined {
    const emitted = outcome.emitted
    if (emitted.length > this.#limits.maxWritesPerEvent) {
      return `The projection asked for ${emitted.length} writes for one event, over the node's limit of ${this.#limits.maxWritesPerEvent}`
    }
    for (const write of emitted) {
      const bytes = Buffer.byteLength(write.data) + (write.metadata === null ? 0 : Buffer.byteLength(write.metadata))
      if (bytes > this.#limits.maxEventBytes) {
        return `The projection emitted an event of ${bytes} bytes to '${write.streamId}', over the node's limit of ${this.#limits.maxEventBytes} bytes per event`
      }
    }
    const tag = checkpointTag(this.#target.version(), position)
    const partition = outcome.partition
    if (partition !== "" && !this.#target.partitionsSeen.has(partition)) {
      this.#target.partitionsSeen.add(partition)
      // ResultWriter.AccountPartition: Guid.Empty as the cause, no correlation id
      const fault = this.#write(this.#names.partitions, textEvent("$partition", partition, tag), position)
      if (fault !== undefined) return fault
    }
    const causedBy = event.eventId
    const correlationId = correlationIdOf(event)
    for (const write of emitted) {
      const fault = this.#emit(write, tag, position, causedBy, correlationId)
      if (fault !== undefined) return fault
    }
    if (!("result" in outcome) || outcome.result === undefined || outcome.result === null) return undefined
    const result = outcome.result
    if (this.#lastResults.get(partition) === result) return undefined
    this.#lastResults.set(partition, result)
    const metadata = withCause(tag, undefined, causedBy, correlationId)
    const main = this.#target.resultStreamName ?? this.#names.result
    if (partition === "") return this.#write(main, jsonEvent("Result", result, metadata), position)
    const stream = this.#names.partitionResult(partition)
    const written = this.#writeNumbered(stream, jsonEvent("Result", result, metadata), position)
    if (typeof written === "string") return written
    return this.#write(main, textEvent("$>", `${written}@${stream}`, metadata), position)
  }

  #emit(write: EmittedEvent, tag: Record<string, unknown>, position: number, causedBy: string, correlationId: string | undefined): string | undefined {
    const own = write.metadata === null ? undefined : parseObject(write.metadata)
    const metadata = withCause(tag, own, causedBy, correlationId)
    if (this.#target.trackEmittedStreams && !this.#target.tracked.has(write.streamId)) {
      this.#target.tracked.add(write.streamId)
      this.#store.append(this.#names.emitted, { _tag: "Any" }, [textEvent("$StreamTracked", write.streamId)])
    }
    const event = write.isJson ? jsonEvent(write.eventType, write.data, metadata) : textEvent(write.eventType, write.data, metadata)
    const written = this.#writeNumbered(write.streamId, event, position)
    return typeof written === "string" ? written : undefined
  }

  #write(stream: string, event: ProposedEvent, position: number): string | undefined {
    const written = this.#writeNumbered(stream, event, position)
    return typeof written === "string" ? written : undefined
  }

  /** Writes one event (or finds it already written): its event number, or a fault reason. */
  #writeNumbered(stream: string, event: ProposedEvent, position: number): number | string | undefined {
    this.writes++
    const committed = this.#alreadyWritten(stream)
    while (committed.length > 0 && committed[0]!.position < position) committed.shift()
    const head = committed[0]
    if (head !== undefined && head.position === position) {
      committed.shift()
      if (head.eventType !== event.eventType) {
        return `An event emitted in recovery for stream ${stream} differs from the originally emitted event. Existing('${head.eventType}', '${head.position}'). New('${event.eventType}', '${position}')`
      }
      this.recovered++
      return head.eventNumber
    }
    const outcome = this.#store.append(stream, { _tag: "Any" }, [event])
    if (outcome._tag === "Success") return Number(outcome.currentRevision)
    if (outcome._tag === "StreamDeleted") return this.#target.system ? undefined : `Stream '${stream}' is deleted`
    return `The write to '${stream}' failed: ${outcome._tag}`
  }

  /** The stream's writes of this epoch after the run's start, read back the first time (oldest first). */
  #alreadyWritten(stream: string): Array<Committed> {
    let committed = this.#recovery.get(stream)
    if (committed !== undefined) return committed
    committed = []
    this.#recovery.set(stream, committed)
    if (!wasWritten(this.#store, stream)) return committed
    const current = this.#target.version()
    for (const e of writtenBackward(this.#store, stream)) {
      const tag = parseTag(e.customMetadata, current)
      // CollectAlreadyCommittedEvents: stop at another projection's or epoch's event, or at the start position
      if (tag === undefined || tag.id !== current.id || tag.version < current.epoch || tag.position <= this.#from) break
      committed.unshift({ position: tag.position, eventType: e.eventType, eventNumber: e.eventNumber })
    }
    return committed
  }
}

/** The checkpoint tag, the event's own metadata (less `$causedBy`), `$causedBy`, `$correlationId` (the handled event's, else the event's own). */
const withCause = (
  tag: Record<string, unknown>,
  own: Record<string, unknown> | undefined,
  causedBy: string,
  correlationId: string | undefined
): Record<string, unknown> => {
  const { "$causedBy": _causedBy, "$correlationId": ownCorrelation, ...rest } = own ?? {}
  const correlation = correlationId ?? ownCorrelation
  return Object.assign({
    ...tag,
    ...rest,
    "$causedBy": causedBy,
    ...(typeof correlation === "string" ? { "$correlationId": correlation } : {})
  }, tag)
}
