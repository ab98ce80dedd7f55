/**
 * The worker thread in which one projection's {@link ProjectionEngine} runs (started by
 * EngineHost.ts), so that user code never runs on the node's event loop.
 *
 * Before each call into the sandbox the worker writes the time the call started into the shared
 * `clock` (a `Float64Array` over a `SharedArrayBuffer`), and 0 after it: the host's watchdog reads
 * it and terminates the worker when a call runs past its limit (a slow built-in such as
 * `new Array(1e8).join('')` never reaches QuickJS's interrupt check).
 *
 * Messages, host → worker: `compile` (the query, the engine options, the states to restore), then
 * `batch` (inputs); worker → host: `compiled` / `compileError`, `batch` (one outcome per input,
 * ending at the first fault or once the batch has taken 50 ms, and the sandbox's heap use).
 *
 * @since 0.1.0
 */
import { parentPort, workerData } from "node:worker_threads"
import { compileProjection, type EngineOptions, type ProcessOutcome, type ProjectionEngine } from "./ProjectionEngine.ts"
import type { WorkerInput, WorkerReply, WorkerRequest } from "./EngineProtocol.ts"

const clock = new Float64Array((workerData as { readonly clock: SharedArrayBuffer }).clock)
let engine: ProjectionEngine | undefined

const timed = <A>(compiling: boolean, f: () => A): A => {
  clock[1] = compiling ? 1 : 0
  clock[0] = Date.now()
  try {
    return f()
  } finally {
    clock[0] = 0
  }
}

const reply = (message: WorkerReply) => parentPort!.postMessage(message)

const compile = async (query: string, options: EngineOptions, states: ReadonlyArray<readonly [string, string]>) => {
  clock[1] = 1
  clock[0] = Date.now()
  const outcome = await compileProjection(query, options).finally(() => {
    clock[0] = 0
  })
  if (outcome._tag === "CompileError") return reply({ op: "compileError", reason: outcome.reason })
  engine = outcome.engine
  try {
    // a biState query keeps its shared state as the root partition's (partition "")
    const biState = engine.definition.options.biState
    for (const [partition, state] of states) {
      if (partition === "" && biState) engine.setSharedState(state)
      else engine.setState(partition, state)
    }
  } catch {
    return reply({ op: "compileError", reason: "The checkpoint state is not valid JSON" })
  }
  reply({ op: "compiled", definition: engine.definition, heapBytes: engine.memoryUsed() })
}

/** A batch answers once its calls have taken this long (the rest is sent again by the runner). */
const BATCH_TIME_MS = 50

const batch = (inputs: ReadonlyArray<WorkerInput>) => {
  const e = engine
  if (e === undefined) return reply({ op: "batch", outcomes: [{ _tag: "Faulted", reason: "The projection is not compiled" }], heapBytes: 0 })
  const outcomes: Array<ProcessOutcome> = []
  const until = Date.now() + BATCH_TIME_MS
  for (const input of inputs) {
    const outcome = timed(false, () => input.kind === "event" ? e.process(input.input) : e.processDeleted(input.partition, input.soft))
    outcomes.push(outcome)
    if (outcome._tag === "Faulted" || Date.now() > until) break
  }
  reply({ op: "batch", outcomes, heapBytes: e.memoryUsed() })
}

parentPort!.on("message", (message: WorkerRequest) => {
  switch (message.op) {
    case "compile":
      void compile(message.query, message.options, message.states)
      return
    case "batch":
      return batch(message.inputs)
  }
})
