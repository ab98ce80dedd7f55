/**
 * The projection engine: runs one KurrentDB projection query program in a QuickJS (WASM) sandbox
 * and folds events through it, one at a time.
 *
 * Each engine owns one QuickJS WASM module, runtime and context, with a memory limit, a stack
 * limit and an interrupt handler that stops any sandbox call running past its time limit. The
 * sandbox gets no host function at all: the host sends a JSON command string to the prelude's
 * dispatcher and gets a JSON string back, so user code sees only ECMAScript built-ins and the
 * query API (no `process`, `require`, modules or host globals). Partition states live on the host
 * as JSON text, as the real node keeps them; a handler's throw, a broken answer, the time limit
 * or the memory limit faults the engine with a reason, and every later call answers the same
 * fault.
 *
 * Driven by ProjectionManager.ts (reading `$all`, checkpoints, writing results and emitted events
 * to the store), itself served by the gRPC Projections service (see README.md beside this file).
 *
 * @since 0.1.0
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from "quickjs-emscripten"
import type { EventRecord } from "../storage/Store.ts"
import { preludeFor } from "./Prelude.ts"
import type {
  EmittedEvent,
  EngineOptions,
  ProcessOutcome,
  ProjectionDefinition,
  ProjectionEvent,
  ProjectionInput
} from "./ProjectionModel.ts"
import { byStreamPartition, categoryOf, deletionApplies } from "./ProjectionSources.ts"
import { type Answer, toDefinition, toEmitted } from "./SandboxAnswer.ts"
import { EMIT_NOT_ALLOWED, hostFailure, QUICKJS_MISSING, timeLimitReason } from "./ProjectionFaults.ts"

export { deletionApplies, readerStrategyError } from "./ProjectionSources.ts"
export { EMIT_NOT_ALLOWED, QUICKJS_MISSING, timeLimitReason } from "./ProjectionFaults.ts"

export type {
  EmittedEvent,
  EngineOptions,
  ProcessOutcome,
  ProjectionDefinition,
  ProjectionEvent,
  ProjectionInput,
  ProjectionOptions
} from "./ProjectionModel.ts"

/**
 * Outcome of {@link compileProjection}.
 *
 * @since 0.1.0
 * @category models
 */
export type CompileOutcome =
  | { readonly _tag: "Compiled"; readonly engine: ProjectionEngine }
  | { readonly _tag: "CompileError"; readonly reason: string }

const utf8 = new TextDecoder("utf-8")

/**
 * Maps a store record onto the engine's input event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRecord = (record: EventRecord): ProjectionEvent => ({
  streamId: record.stream,
  eventNumber: record.eventNumber,
  eventType: record.eventType,
  isJson: record.isJson,
  data: record.data,
  metadata: record.customMetadata
})

const EMITTERS = /\b(?:emit|linkTo|copyTo|linkStreamTo)\s*\(/

/**
 * Compiles a query in a new sandbox: evaluates the prelude and the query (within the time and
 * memory limits) and reads its definition. A syntax error, a throw, an unknown option, a query
 * with no source or a limit hit is a `CompileError` with its reason (the sandbox is then disposed).
 *
 * @since 0.1.0
 * @category constructors
 */
export const compileProjection = async (query: string, options: EngineOptions): Promise<CompileOutcome> => {
  // One WASM module per engine (about 0.5 MB, a few ms): nothing of one projection's heap is shared
  // with another's, and if QuickJS aborts its module (it asserts on objects a stack overflow leaked
  // when the runtime is freed) only this engine's module is lost.
  // quickjs-emscripten is an optional peer dependency of the package (a client alone never loads it)
  const quickjs = await import("quickjs-emscripten").catch(() => undefined)
  if (quickjs === undefined) return { _tag: "CompileError", reason: QUICKJS_MISSING }
  const module = await quickjs.newQuickJSWASMModule()
  const runtime = module.newRuntime()
  const engine = new ProjectionEngine(runtime, options)
  const reason = engine.load(query)
  if (reason !== undefined) {
    engine.dispose()
    return { _tag: "CompileError", reason }
  }
  return { _tag: "Compiled", engine }
}

/**
 * A compiled projection query in its own sandbox. Call {@link ProjectionEngine.dispose} when done
 * (it frees the QuickJS context and runtime at once).
 *
 * @since 0.1.0
 * @category models
 */
export class ProjectionEngine {
  readonly #runtime: QuickJSRuntime
  readonly #context: QuickJSContext
  readonly #options: Required<EngineOptions>
  #dispatcher: QuickJSHandle | undefined
  #deadline = 0
  #interrupted = false
  #compiling = false
  #started = 0
  #fault: string | undefined
  #disposed = false
  #definition: ProjectionDefinition | undefined
  readonly #states = new Map<string, string>()
  readonly #results = new Map<string, string | null>()
  #shared: string | null = null
  /** The partition whose state the sandbox holds live (the last one handled), until a state is restored. */
  #livePartition: string | undefined

  /** @internal */
  constructor(runtime: QuickJSRuntime, options: EngineOptions) {
    this.#options = {
      emitEnabled: options.emitEnabled,
      timeLimitMs: options.timeLimitMs ?? 250,
      compileTimeLimitMs: options.compileTimeLimitMs ?? 500,
      dialect: options.dialect ?? "current",
      memoryLimitBytes: options.memoryLimitBytes ?? 32 * 1024 * 1024,
      stackLimitBytes: options.stackLimitBytes ?? 128 * 1024
    }
    this.#runtime = runtime
    runtime.setMemoryLimit(this.#options.memoryLimitBytes)
    runtime.setMaxStackSize(this.#options.stackLimitBytes)
    runtime.setInterruptHandler(() => {
      if (Date.now() > this.#deadline) {
        this.#interrupted = true
        return true
      }
      return false
    })
    this.#context = runtime.newContext()
  }

  /** The compiled query's definition. */
  get definition(): ProjectionDefinition {
    if (this.#definition === undefined) throw new Error("The projection is not compiled")
    return this.#definition
  }

  /** The fault reason, if the engine faulted. */
  get faultReason(): string | undefined {
    return this.#fault
  }

  /** @internal Evaluates the prelude and the query; answers a compile error's reason. */
  load(query: string): string | undefined {
    this.#compiling = true
    const preludeResult = this.#evaluate(preludeFor(this.#options.dialect === "legacy"), "prelude.js")
    if (typeof preludeResult === "string") return `The projection runtime failed to start: ${preludeResult}`
    this.#dispatcher = preludeResult
    const queryResult = this.#evaluate(query, "query.js")
    if (typeof queryResult === "string") return queryResult
    queryResult.dispose()
    const answer = this.#call({ op: "sources" })
    this.#compiling = false
    if (typeof answer === "string") return answer
    const definition = toDefinition(answer, EMITTERS.test(query))
    if (typeof definition === "string") return definition
    if (!definition.allStreams && definition.streams.length === 0 && definition.categories.length === 0 &&
      definition.catalogStream === null) {
      // ReaderStrategy.Create's text (a real node faults the projection with it when it starts)
      return "None of streams and categories are included"
    }
    this.#definition = definition
    return undefined
  }

  /**
   * Processes one input: applies the source and event-type filters, finds the partition, folds the
   * event into that partition's state and computes the result.
   */
  process(input: ProjectionInput): ProcessOutcome {
    if (this.#fault !== undefined) return { _tag: "Faulted", reason: this.#fault }
    const definition = this.definition
    const { event, link } = input
    if (!this.#passes(definition, input)) return { _tag: "Skipped" }
    const view = {
      bodyRaw: utf8.decode(event.data),
      isJson: event.isJson,
      eventType: event.eventType,
      streamId: event.streamId,
      sequenceNumber: event.eventNumber,
      eventId: event.eventId ?? "",
      category: definition.categories.length > 0 ? (categoryOf(event.streamId) ?? "") : "",
      metadataRaw: event.metadata.length === 0 ? "" : utf8.decode(event.metadata),
      linkMetadataRaw: link === undefined || link.metadata.length === 0 ? "" : utf8.decode(link.metadata)
    }
    let partition = ""
    if (definition.catalogStream !== null) {
      const matched = this.#call({ op: "matches", event: view })
      if (typeof matched === "string") return this.#faulted(matched)
      if (matched.matches !== true) return { _tag: "Skipped" }
      partition = event.streamId
    } else if (definition.byCustomPartitions) {
      const answer = this.#call({ op: "partition", event: view })
      if (typeof answer === "string") return this.#faulted(answer)
      // The real node skips an event whose partition is not a string or a number.
      if (typeof answer.partition !== "string") return { _tag: "Skipped" }
      partition = answer.partition
    } else if (definition.byStreams) {
      partition = byStreamPartition(event, link)
    }
    const answer = this.#call({
      op: "process",
      event: view,
      partition,
      state: this.#states.get(partition) ?? null,
      shared: this.#shared,
      live: this.#livePartition === partition
    })
    if (typeof answer === "string") return this.#faulted(answer)
    return this.#fold(partition, answer)
  }

  /** Runs the `$deleted` handlers for a partition whose stream was deleted. */
  processDeleted(partition: string, isSoftDeleted: boolean): ProcessOutcome {
    if (this.#fault !== undefined) return { _tag: "Faulted", reason: this.#fault }
    if (!this.definition.handlesDeletedNotifications) return { _tag: "Skipped" }
    const answer = this.#call({
      op: "deleted",
      partition,
      isSoftDeleted,
      state: this.#states.get(partition) ?? null,
      live: this.#livePartition === partition
    })
    if (typeof answer === "string") return this.#faulted(answer)
    return this.#fold(partition, answer)
  }

  /**
   * Does the deletion of `stream` reach this query's `$deleted` handler? Only a `foreachStream`
   * query (a real node's ByStreamStatePartitionSelector is the only one whose
   * `EventReaderBasePartitionDeletedIsSupported` is true) with a `$deleted` handler, for a stream
   * among its sources.
   */
  deletionApplies(stream: string): boolean {
    return deletionApplies(this.definition, stream)
  }

  /** Restores the shared state of a `biState` projection (JSON text), as a checkpoint load does. */
  setSharedState(state: string): void {
    JSON.parse(state)
    this.#shared = state
    this.#livePartition = undefined
  }

  /** The state of a partition (`""` = the projection's only state when unpartitioned), JSON text. */
  getState(partition = ""): string | undefined {
    return this.#states.get(partition)
  }

  /** The last result of a partition, JSON text (null: filtered out). */
  getResult(partition = ""): string | null | undefined {
    return this.#results.get(partition)
  }

  /** The shared state of a `biState` projection, JSON text. */
  getSharedState(): string | null {
    return this.#shared
  }

  /** The partitions with a state, in the order they appeared. */
  partitions(): ReadonlyArray<string> {
    return [...this.#states.keys()]
  }

  /** Restores a partition's state (JSON text), as a checkpoint load does. */
  setState(partition: string, state: string): void {
    JSON.parse(state)
    this.#states.set(partition, state)
    this.#livePartition = undefined
  }

  /** Bytes the sandbox's heap holds now (QuickJS's `memory_used_size`), or 0 when unknown. */
  memoryUsed(): number {
    if (this.#disposed) return 0
    try {
      const handle = this.#runtime.computeMemoryUsage()
      const usage = this.#context.dump(handle) as { memory_used_size?: unknown }
      handle.dispose()
      return typeof usage.memory_used_size === "number" ? usage.memory_used_size : 0
    } catch {
      return 0
    }
  }

  /** Frees the sandbox (context and runtime). Idempotent. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    this.#fault ??= "The projection engine was disposed"
    try {
      this.#dispatcher?.dispose()
      this.#dispatcher = undefined
      this.#context.dispose()
      this.#runtime.dispose()
    } catch {
      // QuickJS aborted its WASM module while freeing (objects leaked by a stack overflow): the
      // module belongs to this engine alone and is dropped with it.
    }
  }

  #passes(definition: ProjectionDefinition, { event, link }: ProjectionInput): boolean {
    if (!definition.options.includeLinks && event.eventType === "$>") return false
    if (!definition.allEvents && !definition.events.includes(event.eventType)) return false
    if (definition.allStreams || definition.catalogStream !== null) return true
    // The position stream: the stream read (a link's own stream when a link was resolved).
    const positionStream = link?.streamId ?? event.streamId
    if (definition.streams.includes(positionStream)) return true
    // A category source reads `$ce-<category>`: reached through that stream's links, or given the
    // original event directly (a runner reading `$all`), whose stream has that category.
    const category = link !== undefined
      ? (positionStream.startsWith("$ce-") ? positionStream.slice(4) : undefined)
      : categoryOf(event.streamId)
    if (category === undefined) return false
    return definition.categories.includes(category) || (link === undefined && definition.streams.includes(`$ce-${category}`))
  }

  #fold(partition: string, answer: Answer): ProcessOutcome {
    // A null state (a handler returned null) is kept as the JSON null.
    const state = answer.state === null ? "null" : answer.state
    const shared = answer.shared
    const emitted = answer.emitted
    const logs = answer.logs
    if (typeof state !== "string" || (shared !== null && typeof shared !== "string") ||
      !Array.isArray(emitted) || !Array.isArray(logs)) {
      return this.#faulted("The projection runtime gave a malformed answer")
    }
    const writes: Array<EmittedEvent> = []
    for (const item of emitted as Array<unknown>) {
      const write = toEmitted(item)
      if (write === undefined) return this.#faulted("The projection runtime gave a malformed emitted event")
      writes.push(write)
    }
    if (writes.length > 0 && !this.#options.emitEnabled) return this.#faulted(EMIT_NOT_ALLOWED)
    this.#states.set(partition, state)
    this.#shared = shared
    this.#livePartition = partition
    const base = {
      _tag: "Processed" as const,
      partition,
      state,
      sharedState: shared,
      emitted: writes,
      logs: (logs as Array<unknown>).map(String)
    }
    if (!("result" in answer)) return base
    const result = answer.result
    if (result !== null && typeof result !== "string") return this.#faulted("The projection runtime gave a malformed result")
    this.#results.set(partition, result)
    return { ...base, result }
  }

  #faulted(reason: string): ProcessOutcome {
    this.#fault = reason
    return { _tag: "Faulted", reason }
  }

  /** Evaluates a script under the limits: a handle to its value, or a failure reason. */
  #evaluate(code: string, filename: string): QuickJSHandle | string {
    this.#arm()
    let result: ReturnType<QuickJSContext["evalCode"]>
    try {
      result = this.#context.evalCode(code, filename)
    } catch (e) {
      return hostFailure(e)
    }
    if ("error" in result && result.error !== undefined) return this.#reason(result.error)
    return (result as { value: QuickJSHandle }).value
  }

  /** Calls the dispatcher with one command under the limits: its parsed answer, or a fault reason. */
  #call(command: object): Answer | string {
    if (this.#dispatcher === undefined) return "The projection is not compiled"
    this.#arm()
    const argument = this.#context.newString(JSON.stringify(command))
    let result: ReturnType<QuickJSContext["callFunction"]>
    try {
      result = this.#context.callFunction(this.#dispatcher, this.#context.undefined, argument)
    } catch (e) {
      return hostFailure(e)
    } finally {
      argument.dispose()
    }
    if ("error" in result && result.error !== undefined) return this.#reason(result.error)
    const value = (result as { value: QuickJSHandle }).value
    const text = this.#context.typeof(value) === "string" ? this.#context.getString(value) : undefined
    value.dispose()
    // Promise jobs the call queued (a handler's `.then`, a rejected `import()`) run now, under the
    // same deadline; their errors stay inside the sandbox.
    this.#runtime.executePendingJobs(1000).dispose()
    if (this.#interrupted) return this.#timeLimitReason()
    if (text === undefined) return "The projection runtime gave a malformed answer"
    let answer: unknown
    try {
      answer = JSON.parse(text)
    } catch {
      return "The projection runtime gave a malformed answer"
    }
    if (answer === null || typeof answer !== "object") return "The projection runtime gave a malformed answer"
    const fault = (answer as Answer).fault
    if (fault !== undefined) return this.#describeFault(String(fault))
    return answer as Answer
  }

  #arm(): void {
    this.#interrupted = false
    this.#started = performance.now()
    this.#deadline = Date.now() + this.#limit()
  }

  #limit(): number {
    return this.#compiling ? this.#options.compileTimeLimitMs : this.#options.timeLimitMs
  }

  /** The real node's message, its missing closing parenthesis included. */
  #timeLimitReason(): string {
    return timeLimitReason(this.#compiling, performance.now() - this.#started, this.#limit())
  }

  #describeFault(message: string): string {
    if (this.#interrupted) return this.#timeLimitReason()
    if (/out of memory/i.test(message)) {
      return `The projection exceeded its memory limit of ${this.#options.memoryLimitBytes} bytes`
    }
    return message
  }

  /** The reason of an error handle thrown out of the sandbox (disposes it). */
  #reason(error: QuickJSHandle): string {
    try {
      if (this.#interrupted) return this.#timeLimitReason()
      let message: string
      if (this.#context.typeof(error) === "object") {
        const handle = this.#context.getProp(error, "message")
        message = this.#context.typeof(handle) === "string" ? this.#context.getString(handle) : "unknown error"
        handle.dispose()
      } else if (this.#context.typeof(error) === "string") {
        message = this.#context.getString(error)
      } else {
        message = String(this.#context.dump(error))
      }
      return this.#describeFault(message)
    } catch {
      return this.#interrupted ? this.#timeLimitReason() : this.#describeFault("out of memory")
    } finally {
      error.dispose()
    }
  }
}
