/**
 * `Streams.appendRecords`: records for any streams, in the order given, plus consistency checks
 * on any stream, in one atomic append through the v2 AppendRecords (KurrentDB 26.1+, used only
 * when the node lists it in ServerFeatures).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { NewEvent } from "../../domain/NewEvent.ts"
import { UnsupportedFeature } from "../../errors/UnsupportedFeature.ts"
import {
  type AppendRecord,
  type AppendRecordsRequest,
  type AppendRecordsResponse,
  type ConsistencyCheck,
  StreamsServiceService
} from "../../generated/kurrentdb/protocol/v2/streams/streams.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { Method, TransportShape } from "../transport/Transport.ts"
import type { MultiAppendResult } from "./appendMany.ts"
import { type AppendRecordsError, toAppendRecordsError } from "./errors.ts"
import { toRecord } from "./records.ts"
import { featurePath, type ServerFeatures } from "./serverFeatures.ts"
import * as validate from "./validate.ts"

/**
 * A record of an {@link appendRecords}: the stream it goes to and the event.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamRecord {
  readonly stream: string
  readonly event: NewEvent
}

/**
 * The state a consistency check expects a stream in: a revision, `"no_stream"`, `"exists"`,
 * `"deleted"` (soft-deleted) or `"tombstoned"`.
 *
 * @since 0.1.0
 * @category models
 */
export type ExpectedStreamState = bigint | "no_stream" | "exists" | "deleted" | "tombstoned"

/**
 * A consistency check: the stream must be in `expected` for the append to commit. A check on a
 * stream the append writes is that stream's expected state.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamStateCheck {
  readonly stream: string
  readonly expected: ExpectedStreamState
}

/**
 * Options of {@link appendRecords}: the checks, plus per-call options.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppendRecordsOptions extends CallOptions {
  readonly checks?: ReadonlyArray<StreamStateCheck> | undefined
}

const AppendRecords: Method<AppendRecordsRequest, AppendRecordsResponse> = StreamsServiceService.appendRecords

const MAX_I64 = (1n << 63n) - 1n

const expectedState = (e: ExpectedStreamState): bigint | undefined =>
  e === "no_stream"
    ? -1n
    : e === "exists"
    ? -4n
    : e === "deleted"
    ? -5n
    : e === "tombstoned"
    ? -6n
    : typeof e === "bigint" && e >= 0n && e <= MAX_I64
    ? e
    : undefined

/**
 * Appends records to their streams in one transaction, if every check holds: all or nothing.
 *
 * @internal
 */
export const appendRecords = (
  transport: TransportShape,
  features: ServerFeatures,
  records: ReadonlyArray<StreamRecord>,
  options?: AppendRecordsOptions
): Effect.Effect<MultiAppendResult, AppendRecordsError> =>
  Effect.suspend(() => {
    if (records.length === 0) return Effect.fail(validate.invalid("appendRecords needs at least one record"))
    const wire: Array<AppendRecord> = []
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      const problem = validate.streamName(r.stream) ?? validate.events([r.event])
      if (problem) return Effect.fail(validate.invalid(`records[${i}]: ${problem.reason}`))
      const record = toRecord(r.event, `records[${i}].event`, r.stream)
      if (!("data" in record)) return Effect.fail(record)
      wire.push(record)
    }
    const checks: Array<ConsistencyCheck> = []
    const checked = new Set<string>()
    for (const [i, check] of (options?.checks ?? []).entries()) {
      const problem = validate.streamName(check.stream)
      if (problem) return Effect.fail(validate.invalid(`checks[${i}]: ${problem.reason}`))
      const state = expectedState(check.expected)
      if (state === undefined) {
        return Effect.fail(validate.invalid(
          `checks[${i}].expected must be a revision, "no_stream", "exists", "deleted" or "tombstoned", got ${String(check.expected)}`
        ))
      }
      const key = check.stream.toUpperCase()
      if (checked.has(key)) return Effect.fail(validate.invalid(`stream '${check.stream}' is checked twice: check each stream once`))
      checked.add(key)
      checks.push({ type: { $case: "streamState", value: { stream: check.stream, expectedState: state } } })
    }
    return Effect.flatMap(Effect.mapError(features.get(options), toAppendRecordsError), (f): Effect.Effect<MultiAppendResult, AppendRecordsError> => {
      if (!f.methods.has(featurePath(AppendRecords.path))) {
        return Effect.fail(new UnsupportedFeature({ feature: "appendRecords (AppendRecords)", requiredVersion: "26.1", ...(f.version === undefined ? {} : { serverVersion: f.version }) }))
      }
      return transport.call({
        name: "Streams.appendRecords",
        kind: "write",
        options,
        attributes: () => ({ "db.collection.name": Array.from(new Set(records.map((r) => r.stream))).join(",") }),
        narrow: toAppendRecordsError
      }, (spec) =>
        Effect.map(transport.unary(AppendRecords, { records: wire, checks }, spec), (reply): MultiAppendResult => ({
          revisions: reply.revisions.map((r) => ({ stream: r.stream, revision: r.revision })),
          position: reply.position
        })))
    })
  })
