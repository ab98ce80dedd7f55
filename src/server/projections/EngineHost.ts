/**
 * The node's side of a projection engine: a JS query runs in its own worker thread
 * (EngineWorker.ts) under a watchdog; a system projection's native processor runs here. Both
 * answer a batch of inputs asynchronously, and keep a copy of the partition states and results
 * the node reads (State, Result, checkpoints) without asking the worker.
 *
 * The watchdog: while a batch (or the compile) is in flight, a timer reads the time the current
 * sandbox call started (shared memory the worker writes) and terminates the worker once a call
 * has run past its limit plus a grace; the projection faults with the real node's time-limit text.
 * A worker that dies otherwise (V8 heap limit, a crash) faults its projection with the cause.
 * `dispose` terminates the worker at once, freeing its heap.
 *
 * @since 0.1.0
 */
import { Worker } from "node:worker_threads"
import type { WorkerInput, WorkerReply, WorkerRequest } from "./EngineProtocol.ts"
import {
  deletionApplies,
  type EngineOptions,
  type ProcessOutcome,
  type ProjectionDefinition,
  timeLimitReason
} from "./ProjectionEngine.ts"
import type { Processor } from "./SystemProjections.ts"

/**
 * What one batch gave: an outcome per input (ending at the first fault) and the sandbox's heap use.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchAnswer {
  readonly outcomes: ReadonlyArray<ProcessOutcome>
  readonly heapBytes: number
}

/**
 * A started engine, JS (in its worker) or native.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostedEngine {
  /** What the runner needs of the definition (a system projection's is a `fromAll()` one). */
  readonly definition: Processor["definition"]
  /** A JS query's whole definition (its sources); undefined for a system projection. */
  readonly query: ProjectionDefinition | undefined
  /** Runs the inputs in order; the copies of states and results follow the outcomes. */
  readonly run: (inputs: ReadonlyArray<WorkerInput>) => Promise<BatchAnswer>
  readonly deletionApplies: (stream: string) => boolean
  readonly getState: (partition: string) => string | undefined
  readonly getResult: (partition: string) => string | null | undefined
  readonly getSharedState: () => string | null
  readonly partitions: () => ReadonlyArray<string>
  /** Bytes the engine holds: the state copies here and in the sandbox, and the sandbox's heap. */
  readonly memoryBytes: () => number
  /** Frees the engine (terminates its worker). Idempotent. */
  readonly dispose: () => void
}

/**
 * Outcome of starting an engine.
 *
 * @since 0.1.0
 * @category models
 */
export type StartOutcome =
  | { readonly _tag: "Started"; readonly engine: HostedEngine }
  | { readonly _tag: "Failed"; readonly reason: string }

/** Extra time the watchdog allows past a call's limit (QuickJS's own interrupt gets it first). */
const WATCHDOG_GRACE_MS = 100
/** Extra time for a compile: it also instantiates the WASM module. */
const WATCHDOG_COMPILE_GRACE_MS = 1000
/** A worker that has not answered its compile by then (it never started) faults its projection. */
const WORKER_START_DEADLINE_MS = 30_000
/** What a worker costs beyond its sandbox (a V8 isolate and the WASM module; measured ≈13 MB). */
export const WORKER_OVERHEAD_BYTES = 16 * 1024 * 1024

const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./EngineWorker.ts" : "./EngineWorker.js", import.meta.url)

/** The copies of the states and results the node reads, kept from the outcomes. */
class StateCopies {
  readonly states = new Map<string, string>()
  readonly results = new Map<string, string | null>()
  shared: string | null = null
  bytes = 0

  restore(states: ReadonlyMap<string, string>, biState: boolean): void {
    for (const [partition, state] of states) {
      if (partition === "" && biState) this.shared = state
      else this.set(partition, state)
    }
  }

  set(partition: string, state: string): void {
    const old = this.states.get(partition)
    this.bytes += state.length * 2 - (old === undefined ? 0 : old.length * 2) + (old === undefined ? partition.length * 2 : 0)
    this.states.set(partition, state)
  }

  follow(outcomes: ReadonlyArray<ProcessOutcome>): void {
    for (const o of outcomes) {
      if (o._tag !== "Processed") continue
      this.set(o.partition, o.state)
      this.shared = o.sharedState
      if ("result" in o && o.result !== undefined) this.results.set(o.partition, o.result)
    }
  }
}

/**
 * Starts a JS query in a new worker: compiles it there and restores the checkpoint's states.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startWorkerEngine = (
  query: string,
  options: EngineOptions,
  restore: ReadonlyMap<string, string>
): Promise<StartOutcome> => {
  const clock = new SharedArrayBuffer(16)
  const started = new Float64Array(clock)
  const worker = new Worker(WORKER_URL, {
    workerData: { clock },
    resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    stdout: false,
    stderr: false
  })
  worker.unref()
  const timeLimitMs = options.timeLimitMs ?? 250
  const compileLimitMs = options.compileTimeLimitMs ?? 500
  let disposed = false
  let pending: { readonly resolve: (reply: WorkerReply | { readonly op: "died"; readonly reason: string }) => void } | undefined
  let watchdog: ReturnType<typeof setInterval> | undefined
  let startDeadline: ReturnType<typeof setTimeout> | undefined
  let death: string | undefined

  const settle = (reply: WorkerReply | { readonly op: "died"; readonly reason: string }) => {
    if (watchdog !== undefined) clearInterval(watchdog)
    watchdog = undefined
    if (startDeadline !== undefined) clearTimeout(startDeadline)
    startDeadline = undefined
    const p = pending
    pending = undefined
    p?.resolve(reply)
  }
  const die = (reason: string) => {
    death ??= reason
    disposed = true
    void worker.terminate()
    settle({ op: "died", reason: death })
  }
  worker.on("message", (reply: WorkerReply) => settle(reply))
  worker.on("error", (error: Error & { code?: string }) => {
    die(error.code === "ERR_WORKER_OUT_OF_MEMORY"
      ? `The projection exceeded its memory limit (its worker's heap)`
      : `The projection's worker failed: ${error.message}`)
  })
  worker.on("exit", (code) => {
    if (!disposed) die(`The projection's worker stopped (exit code ${code})`)
    else settle({ op: "died", reason: death ?? "The projection engine was disposed" })
  })

  const request = (message: WorkerRequest) =>
    new Promise<WorkerReply | { readonly op: "died"; readonly reason: string }>((resolve) => {
      if (disposed) return resolve({ op: "died", reason: death ?? "The projection engine was disposed" })
      pending = { resolve }
      if (message.op === "compile") {
        startDeadline = setTimeout(() => die(`The projection's worker did not start within ${WORKER_START_DEADLINE_MS} ms`), WORKER_START_DEADLINE_MS)
        startDeadline.unref()
      }
      const tick = Math.max(10, Math.min(50, Math.floor(timeLimitMs / 4)))
      watchdog = setInterval(() => {
        const at = started[0]!
        if (at === 0) return
        const compiling = started[1] === 1
        const limit = compiling ? compileLimitMs : timeLimitMs
        const took = Date.now() - at
        if (took > limit + (compiling ? WATCHDOG_COMPILE_GRACE_MS : WATCHDOG_GRACE_MS)) die(timeLimitReason(compiling, took, limit))
      }, tick)
      watchdog.unref()
      worker.postMessage(message)
    })

  const copies = new StateCopies()
  let heapBytes = 0
  const dispose = () => {
    if (disposed) return
    disposed = true
    death ??= "The projection engine was disposed"
    void worker.terminate()
  }

  return request({ op: "compile", query, options, states: [...restore] }).then((compiled) => {
    if (compiled.op === "died") return { _tag: "Failed", reason: compiled.reason } as const
    if (compiled.op !== "compiled") {
      dispose()
      return { _tag: "Failed", reason: compiled.op === "compileError" ? compiled.reason : "The projection runtime gave a malformed answer" } as const
    }
    const definition = compiled.definition
    heapBytes = compiled.heapBytes
    copies.restore(restore, definition.options.biState)
    const engine: HostedEngine = {
      definition,
      query: definition,
      run: async (inputs) => {
        const reply = await request({ op: "batch", inputs })
        if (reply.op === "died") return { outcomes: [{ _tag: "Faulted", reason: reply.reason }], heapBytes }
        if (reply.op !== "batch") return { outcomes: [{ _tag: "Faulted", reason: "The projection runtime gave a malformed answer" }], heapBytes }
        copies.follow(reply.outcomes)
        heapBytes = reply.heapBytes
        return reply
      },
      deletionApplies: (stream) => deletionApplies(definition, stream),
      getState: (partition) => copies.states.get(partition),
      getResult: (partition) => copies.results.get(partition),
      getSharedState: () => copies.shared,
      partitions: () => [...copies.states.keys()],
      // the states live twice (here and in the sandbox, whose heap counts them again)
      memoryBytes: () => disposed ? 0 : WORKER_OVERHEAD_BYTES + heapBytes + 2 * copies.bytes,
      dispose
    }
    return { _tag: "Started", engine } as const
  })
}

/**
 * Hosts a system projection's native processor (our own code, bounded per event) on this thread.
 *
 * @since 0.1.0
 * @category constructors
 */
export const localEngine = (processor: Processor): HostedEngine => ({
  definition: processor.definition,
  query: undefined,
  run: (inputs) => {
    const outcomes: Array<ProcessOutcome> = []
    for (const input of inputs) {
      const outcome = input.kind === "event"
        ? processor.process(input.input)
        : processor.processDeleted?.(input.partition, input.soft) ?? { _tag: "Skipped" as const }
      outcomes.push(outcome)
      if (outcome._tag === "Faulted") break
    }
    return Promise.resolve({ outcomes, heapBytes: 0 })
  },
  deletionApplies: (stream) => processor.deletionApplies?.(stream) ?? false,
  getState: (partition) => processor.getState(partition),
  getResult: (partition) => processor.getResult(partition),
  getSharedState: () => processor.getSharedState?.() ?? null,
  partitions: () => processor.partitions(),
  memoryBytes: () => 0,
  dispose: () => processor.dispose()
})
