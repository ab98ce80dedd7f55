/**
 * Decoding and validating the create and update requests of the embedded node's persistent
 * subscriptions service: the group's settings and strategy, and its target (stream or `$all`,
 * start, filter), refused with the real node's texts.
 *
 * @since 0.1.0
 */
import {
  type CreateReq,
  type CreateReq_Settings,
  type UpdateReq,
  type UpdateReq_Settings
} from "../../generated/persistent.ts"
import type { StreamIdentifier } from "../../generated/shared.ts"
import { compilePattern, PatternError } from "../UserPattern.ts"
import { type GroupFilter, type GroupSettings, type StartFrom } from "./Group.ts"
import { invalidArgument, invalidArgumentOf, type RpcFailure } from "../errors.ts"

/** The stream name of a request's identifier (empty when absent). */
export const streamName = (id: StreamIdentifier | undefined): string => id === undefined ? "" : id.streamName.toString("utf8")

const TICKS_PER_MS = 10_000n

/** The `$all` stream name. */
export const ALL = "$all"

/** The settings of a create or update request. */
export type Settings = CreateReq_Settings | UpdateReq_Settings

const NAMED_STRATEGIES = ["DispatchToSingle", "RoundRobin", "Pinned"]

/** A request's settings as the group's settings, with the strategy named. */
export const settingsOf = (s: Settings | undefined, strategy: string): GroupSettings => {
  const ms = (o: Settings["messageTimeout"] | Settings["checkpointAfter"]): number => {
    if (o === undefined) return 0
    switch (o.$case) {
      case "messageTimeoutMs":
      case "checkpointAfterMs":
        return o.value
      case "messageTimeoutTicks":
      case "checkpointAfterTicks":
        return Number(o.value / TICKS_PER_MS)
    }
  }
  return {
    resolveLinkTos: s?.resolveLinks ?? false,
    extraStatistics: s?.extraStatistics ?? false,
    messageTimeoutMs: ms(s?.messageTimeout),
    maxRetryCount: s?.maxRetryCount ?? 0,
    liveBufferSize: s?.liveBufferSize ?? 0,
    historyBufferSize: s?.historyBufferSize ?? 0,
    readBatchSize: s?.readBatchSize ?? 0,
    checkPointAfterMs: ms(s?.checkpointAfter),
    minCheckPointCount: s?.minCheckpointCount ?? 0,
    maxCheckPointCount: s?.maxCheckpointCount ?? 0,
    maxSubscriberCount: s?.maxSubscriberCount ?? 0,
    consumerStrategy: strategy
  }
}

/**
 * The message of the ArgumentOutOfRangeException a real node's group throws when its read batch
 * is not smaller than its history buffer (.NET formats the one argument given as the parameter name).
 */
export const READ_BATCH_TOO_LARGE =
  "Specified argument was out of the range of valid values. (Parameter 'ReadBatchSize may not be greater than or equal to BufferSize')"

/** The strategy name: the string field (Create only), else the deprecated enum. */
export const strategyOf = (s: Settings | undefined): string => {
  const named = s !== undefined && "consumerStrategy" in s ? s.consumerStrategy : ""
  if (named !== "") return named
  const n = s?.namedConsumerStrategy ?? 0
  return NAMED_STRATEGIES[n] ?? String(n)
}

type Target = { readonly stream: string; readonly start: StartFrom; readonly filter: GroupFilter | undefined }

/** The request type's name as the real node's errors spell it (`CreateReq` / `UpdateReq`). */
export type Kind = "create" | "update"
const reqName = (kind: Kind) => kind === "create" ? "CreateReq" : "UpdateReq"

/**
 * The stream (or `$all`), start and filter of a Create/Update, or the INVALID_ARGUMENT a real node
 * gives for a oneof left unset ("'None' is not a valid ...OneofCase").
 */
export const targetOf = (kind: Kind, options: NonNullable<CreateReq["options"] | UpdateReq["options"]>): Target | RpcFailure => {
  const opt = options.streamOption
  const type = `EventStore.Client.PersistentSubscriptions.${reqName(kind)}+Types`
  if (opt?.$case === "all") {
    const a = opt.value.allOption
    if (a === undefined) return invalidArgumentOf("None", `${type}+AllOptions+AllOptionOneofCase`)
    const start: StartFrom = a.$case === "position"
      ? { _tag: "All", commit: a.value.commitPosition, prepare: a.value.preparePosition }
      : a.$case === "end"
      ? { _tag: "All", commit: -1n, prepare: -1n }
      : { _tag: "All", commit: 0n, prepare: 0n }
    let filter: GroupFilter | undefined
    if ("filterOption" in opt.value && opt.value.filterOption?.$case === "filter") {
      const f = opt.value.filterOption.value.filter
      if (f === undefined) return invalidArgumentOf("None", `${type}+AllOptions+Types+FilterOptions+FilterOneofCase`)
      const expr = f.value
      if (expr.regex !== "") {
        // matched in linear time (UserPattern.ts): a pattern that cannot be is refused here
        const compiled = compilePattern(expr.regex)
        if (compiled instanceof PatternError) return invalidArgument(compiled.message)
      }
      // an empty regex means the prefixes (EventFilter.*.Prefixes)
      filter = {
        context: f.$case === "streamIdentifier" ? "StreamId" : "EventType",
        type: expr.regex === "" ? "Prefix" : "Regex",
        data: expr.regex === "" ? expr.prefix : [expr.regex]
      }
    }
    return { stream: ALL, start, filter }
  }
  if (opt?.$case === "stream") {
    const r = opt.value.revisionOption
    if (r === undefined) return invalidArgumentOf("None", `${type}+StreamOptions+RevisionOptionOneofCase`)
    const eventNumber = r.$case === "revision" ? BigInt.asIntN(64, r.value) : r.$case === "end" ? -1n : 0n
    return { stream: streamName(opt.value.streamIdentifier), start: { _tag: "Stream", eventNumber }, filter: undefined }
  }
  // the deprecated form: stream_identifier + settings.revision
  return {
    stream: streamName(options.streamIdentifier),
    start: { _tag: "Stream", eventNumber: BigInt.asIntN(64, options.settings?.revision ?? 0n) },
    filter: undefined
  }
}

/** Why a stream-option target is refused before the group is looked at, or undefined. */
export const targetProblem = (target: Target, viaStream: boolean): string | undefined => {
  if (target.stream === "") return "Bad stream name."
  if (viaStream && target.stream === ALL) return "Persistent subscriptions to $all are only supported over gRPC through gRPC clients"
  return undefined
}
