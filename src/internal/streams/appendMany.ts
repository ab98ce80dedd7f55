/**
 * `Streams.appendMany`: several streams' events in one atomic append, through the v2
 * AppendSession (KurrentDB 25.1+, used only when the node lists it in ServerFeatures).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { NewEvent } from "../../domain/NewEvent.ts"
import type { StreamState } from "../../domain/StreamState.ts"
import type { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { UnsupportedFeature } from "../../errors/UnsupportedFeature.ts"
import { type AppendRecord, type AppendRequest, StreamsServiceService } from "../../generated/kurrentdb/protocol/v2/streams/streams.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { Method, TransportShape } from "../transport/Transport.ts"
import { type AppendManyError, toAppendManyError } from "./errors.ts"
import { toRecord } from "./records.ts"
import { featurePath, type ServerFeatures } from "./serverFeatures.ts"
import * as validate from "./validate.ts"

/**
 * One stream of an {@link appendMany}: its events and the state it must be in.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamAppend {
  readonly stream: string
  readonly events: NewEvent | Iterable<NewEvent>
  readonly currentVersion: StreamState
}

/**
 * The outcome of a multi-stream append: each stream's revision after it (its last event's), in
 * the order given, and the commit position of the transaction.
 *
 * @since 0.1.0
 * @category models
 */
export interface MultiAppendResult {
  readonly revisions: ReadonlyArray<{ readonly stream: string; readonly revision: bigint }>
  readonly position: bigint
}

const AppendSession: Method<AppendRequest, import("../../generated/kurrentdb/protocol/v2/streams/streams.ts").AppendSessionResponse> =
  StreamsServiceService.appendSession

const isIterable = (value: unknown): value is Iterable<NewEvent> =>
  typeof value === "object" && value !== null && Symbol.iterator in value

/** The wire expected revision (−1 no stream, −2 any, −4 exists). @internal */
export const expectedRevision = (state: StreamState): bigint =>
  state === "any" ? -2n : state === "no_stream" ? -1n : state === "exists" ? -4n : state

const MAX_I64 = (1n << 63n) - 1n

/** Validates the appends and builds the session's requests. @internal */
export const buildRequests = (appends: ReadonlyArray<StreamAppend>): Array<AppendRequest> | InvalidArgument => {
  if (appends.length === 0) return validate.invalid("appendMany needs at least one stream")
  const seen = new Set<string>()
  const requests: Array<AppendRequest> = []
  for (let i = 0; i < appends.length; i++) {
    const a = appends[i]!
    const problem = validate.streamName(a.stream) ?? validate.streamState(a.currentVersion)
    if (problem) return problem
    if (typeof a.currentVersion === "bigint" && a.currentVersion > MAX_I64) {
      return validate.invalid(`currentVersion of '${a.stream}' must be below 2^63 for a v2 append`)
    }
    // a node refuses a stream twice in one session (compared ignoring case): refused here, unsent
    const key = a.stream.toUpperCase()
    if (seen.has(key)) return validate.invalid(`stream '${a.stream}' appears twice in one appendMany: give each stream once`)
    seen.add(key)
    const events: ReadonlyArray<NewEvent> = isIterable(a.events) ? Array.from(a.events) : [a.events]
    const bad = validate.events(events)
    if (bad) return validate.invalid(`stream '${a.stream}': ${bad.reason}`)
    const records: Array<AppendRecord> = []
    for (let k = 0; k < events.length; k++) {
      const record = toRecord(events[k]!, `appends[${i}].events[${k}]`)
      if (!("data" in record)) return record
      records.push(record)
    }
    requests.push({ stream: a.stream, records, expectedRevision: expectedRevision(a.currentVersion) })
  }
  return requests
}

/**
 * Appends to several streams in one transaction: all or nothing.
 *
 * @internal
 */
export const appendMany = (
  transport: TransportShape,
  features: ServerFeatures,
  appends: ReadonlyArray<StreamAppend>,
  options?: CallOptions
): Effect.Effect<MultiAppendResult, AppendManyError> =>
  Effect.suspend(() => {
    const requests = buildRequests(appends)
    if (!Array.isArray(requests)) return Effect.fail(requests)
    return Effect.flatMap(Effect.mapError(features.get(options), toAppendManyError), (f): Effect.Effect<MultiAppendResult, AppendManyError> => {
      if (!f.methods.has(featurePath(AppendSession.path))) {
        return Effect.fail(new UnsupportedFeature({ feature: "appendMany (AppendSession)", requiredVersion: "25.1", ...(f.version === undefined ? {} : { serverVersion: f.version }) }))
      }
      return transport.call({
        name: "Streams.appendMany",
        kind: "write",
        options,
        context: requests.length === 1 ? { stream: requests[0]!.stream } : undefined,
        attributes: () => ({ "db.collection.name": requests.map((r) => r.stream).join(",") }),
        narrow: toAppendManyError
      }, (spec) =>
        Effect.map(transport.clientStream(AppendSession, requests, spec), (reply): MultiAppendResult => ({
          revisions: reply.output.map((o) => ({ stream: o.stream, revision: o.streamRevision })),
          position: reply.position
        })))
    })
  })
