/**
 * The messages between EngineHost.ts (the node's thread) and EngineWorker.ts (the projection's
 * worker thread). Plain data only: they cross by structured clone.
 *
 * @since 0.1.0
 */
import type { EngineOptions, ProcessOutcome, ProjectionDefinition, ProjectionInput } from "./ProjectionEngine.ts"

/**
 * One input of a batch: an event (with the link it was read through) or a `$deleted` notification.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkerInput =
  | { readonly kind: "event"; readonly input: ProjectionInput }
  | { readonly kind: "deleted"; readonly partition: string; readonly soft: boolean }

/**
 * Host → worker.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkerRequest =
  | {
    readonly op: "compile"
    readonly query: string
    readonly options: EngineOptions
    /** Partition states to restore (a checkpoint; partition "" of a `biState` query is its shared state). */
    readonly states: ReadonlyArray<readonly [string, string]>
  }
  | { readonly op: "batch"; readonly inputs: ReadonlyArray<WorkerInput> }

/**
 * Worker → host. `heapBytes`: what the sandbox's heap holds after the step. A batch's outcomes may
 * stop before its last input (a fault, or the batch's time is up).
 *
 * @since 0.1.0
 * @category models
 */
export type WorkerReply =
  | { readonly op: "compiled"; readonly definition: ProjectionDefinition; readonly heapBytes: number }
  | { readonly op: "compileError"; readonly reason: string }
  | { readonly op: "batch"; readonly outcomes: ReadonlyArray<ProcessOutcome>; readonly heapBytes: number }
