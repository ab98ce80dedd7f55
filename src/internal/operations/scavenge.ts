/**
 * `Operations.startScavenge` and `stopScavenge`: one StartScavenge / StopScavenge call. A start
 * while a scavenge runs answers that one's id (`InProgress`); a stop answers once the scavenge
 * has stopped.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { type ScavengeResp, ScavengeResp_ScavengeResult } from "../../generated/operations.ts"
import type { CallOptions } from "../transport/Options.ts"
import { toTransportError } from "../transport/TransportError.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type OperationsError, type StopScavengeError, toStopScavengeError } from "./errors.ts"
import { StartScavenge, StopScavenge } from "./methods.ts"

/**
 * What the node answered about a scavenge: its id, and whether it was started by this call
 * (`Started`), was running already (`InProgress`) or has stopped (`Stopped`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ScavengeResult {
  readonly scavengeId: string
  readonly result: "Started" | "InProgress" | "Stopped"
}

/**
 * Options of starting a scavenge.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartScavengeOptions extends CallOptions {
  /** Threads the scavenge uses (default 1). */
  readonly threads?: number | undefined
  /** The chunk it starts from (default 0). */
  readonly startFromChunk?: number | undefined
}

const results: Record<number, ScavengeResult["result"]> = {
  [ScavengeResp_ScavengeResult.Started]: "Started",
  [ScavengeResp_ScavengeResult.InProgress]: "InProgress",
  [ScavengeResp_ScavengeResult.Stopped]: "Stopped"
}

const toResult = (response: ScavengeResp): ScavengeResult => ({
  scavengeId: response.scavengeId,
  result: results[response.scavengeResult] ?? "InProgress"
})

const isInt32 = (n: number, min: number) => Number.isInteger(n) && n >= min && n <= 2_147_483_647

/** @internal */
export const startScavenge = (
  transport: TransportShape,
  options?: StartScavengeOptions
): Effect.Effect<ScavengeResult, OperationsError> =>
  Effect.suspend(() => {
    const threadCount = options?.threads ?? 1
    const startFromChunk = options?.startFromChunk ?? 0
    if (!isInt32(threadCount, 1)) return Effect.fail(new InvalidArgument({ reason: "threads must be a positive integer" }))
    if (!isInt32(startFromChunk, 0)) {
      return Effect.fail(new InvalidArgument({ reason: "startFromChunk must be a non-negative integer" }))
    }
    return transport.call({
      name: "Operations.startScavenge",
      kind: "write",
      options,
      narrow: toTransportError
    }, (spec) => Effect.map(transport.unary(StartScavenge, { options: { threadCount, startFromChunk } }, spec), toResult))
  })

/** @internal */
export const stopScavenge = (
  transport: TransportShape,
  scavengeId: string,
  options?: CallOptions
): Effect.Effect<ScavengeResult, StopScavengeError> =>
  Effect.suspend(() => {
    if (typeof scavengeId !== "string" || scavengeId.trim() === "") {
      return Effect.fail(new InvalidArgument({ reason: "A scavenge id must not be empty (\"current\" names the running one)" }))
    }
    return transport.call({
      name: "Operations.stopScavenge",
      kind: "write",
      options,
      attributes: { "esdb.scavenge.id": scavengeId },
      narrow: toStopScavengeError(scavengeId)
    }, (spec) => Effect.map(transport.unary(StopScavenge, { options: { scavengeId } }, spec), toResult))
  })
