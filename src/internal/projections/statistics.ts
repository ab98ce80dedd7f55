/**
 * `Projections.getStatistics` and `list`: one Statistics call (server streaming, one reply per
 * projection) for a projection by name, for all of them, or for those of one mode.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { parseStatus, ProjectionDetails } from "../../domain/ProjectionDetails.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { Code } from "../../generated/code.ts"
import type { StatisticsReq_Options, StatisticsResp, StatisticsResp_Details } from "../../generated/projections.ts"
import type { CallError } from "../transport/CallError.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { Emit, TransportShape } from "../transport/Transport.ts"
import { type ListProjectionsError, type ProjectionError, toListError, toProjectionError } from "./errors.ts"
import { Statistics } from "./methods.ts"
import * as validate from "./validate.ts"

/**
 * Which projections `list` reports: all, or those of one mode.
 *
 * @since 0.1.0
 * @category models
 */
export type ProjectionModeFilter = "all" | "continuous" | "oneTime" | "transient"

/**
 * Options of listing projections.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions extends CallOptions {
  /** Default `"all"`. */
  readonly mode?: ProjectionModeFilter | undefined
}

/** Most projections one reply list is read to (a node holding more is a hostile one). */
const MAX_PROJECTIONS = 100_000

/** @internal */
export const toDetails = (d: StatisticsResp_Details): ProjectionDetails => {
  const { enabled, state } = parseStatus(d.status)
  return new ProjectionDetails({
    name: d.name,
    effectiveName: d.effectiveName,
    mode: d.mode,
    status: d.status,
    stateReason: d.stateReason,
    state,
    enabled,
    faultReason: state === "Faulted" ? d.stateReason : undefined,
    version: d.version,
    epoch: d.epoch,
    position: d.position,
    lastCheckpoint: d.lastCheckpoint,
    progress: d.progress,
    eventsProcessedAfterRestart: d.eventsProcessedAfterRestart,
    coreProcessingTime: d.coreProcessingTime,
    writesInProgress: d.writesInProgress,
    readsInProgress: d.readsInProgress,
    partitionsCached: d.partitionsCached,
    checkpointStatus: d.checkpointStatus,
    bufferedEvents: d.bufferedEvents,
    writePendingEventsBeforeCheckpoint: d.writePendingEventsBeforeCheckpoint,
    writePendingEventsAfterCheckpoint: d.writePendingEventsAfterCheckpoint
  })
}

const statistics = <E>(
  transport: TransportShape,
  operation: { readonly name: string; readonly attributes?: Record<string, unknown> },
  mode: NonNullable<StatisticsReq_Options["mode"]>,
  options: CallOptions | undefined,
  narrow: (error: CallError) => E
) =>
  transport.call(
    { ...operation, kind: "read", options, narrow },
    (spec) =>
      Effect.suspend(() => {
        let count = 0
        return Stream.runCollect(
          transport.serverStream(
            Statistics,
            { options: { mode } },
            spec,
            (message: StatisticsResp, emit: Emit<ProjectionDetails>) => {
              if (message.details === undefined) return
              if (++count > MAX_PROJECTIONS) {
                return emit.fail(
                  new GrpcError({ code: Code.RESOURCE_EXHAUSTED, details: `More than ${MAX_PROJECTIONS} projections listed`, metadata: {} })
                )
              }
              emit.push(toDetails(message.details))
            }
          )
        )
      })
  ).pipe(Effect.map((chunk): ReadonlyArray<ProjectionDetails> => Array.from(chunk)))

/** @internal */
export const getStatistics = (
  transport: TransportShape,
  name: string,
  options?: CallOptions
): Effect.Effect<ProjectionDetails, ProjectionError> =>
  Effect.suspend(() => {
    const problem = validate.name(name)
    if (problem) return Effect.fail(problem)
    return statistics(
      transport,
      { name: "Projections.getStatistics", attributes: { "db.projection.name": name } },
      { $case: "name", value: name },
      options,
      toProjectionError(name)
    ).pipe(
      Effect.flatMap((all) => {
        const one = all.find((d) => d.name === name) ?? all[0]
        return one === undefined
          ? Effect.fail(new GrpcError({ code: Code.UNKNOWN, details: `Statistics of '${name}' answered nothing`, metadata: {} }))
          : Effect.succeed(one)
      })
    )
  })

/** @internal */
export const list = (
  transport: TransportShape,
  options?: ListOptions
): Effect.Effect<ReadonlyArray<ProjectionDetails>, ListProjectionsError> =>
  Effect.suspend(() => {
    const mode = options?.mode ?? "all"
    if (!["all", "continuous", "oneTime", "transient"].includes(mode)) {
      return Effect.fail(new InvalidArgument({ reason: `Unknown projection mode '${String(mode)}'` }))
    }
    return statistics(transport, { name: "Projections.list" }, { $case: mode, value: {} }, options, toListError)
  })
