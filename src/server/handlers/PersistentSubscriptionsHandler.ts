/**
 * `event_store.client.persistent_subscriptions.PersistentSubscriptions`: managing the groups
 * (Create, Update, Delete, GetInfo, List, ReplayParked, RestartSubsystem) as PROTOCOL.md §4
 * describes, with the statuses, trailers and texts of a real node. A single embedded node is always
 * the leader, so the leader-only methods are always served.
 *
 * `Read` (the consumers) and `TruncateParked` are not implemented yet: they are left out of the
 * service definition, so the node answers UNIMPLEMENTED and ServerFeatures does not list them.
 *
 * @since 0.1.0
 */
import {
  type CreateReq,
  type CreateReq_Settings,
  type CreateResp,
  type DeleteReq,
  type DeleteResp,
  type GetInfoReq,
  type GetInfoResp,
  type ListReq,
  type ListResp,
  PersistentSubscriptionsService,
  type ReplayParkedReq,
  type ReplayParkedResp,
  type SubscriptionInfo,
  type UpdateReq,
  type UpdateReq_Settings,
  type UpdateResp
} from "../../generated/persistent.ts"
import type { Empty, StreamIdentifier } from "../../generated/shared.ts"
import type { Auth, Principal } from "../Auth.ts"
import {
  accessDenied,
  invalidArgumentOf,
  persistentSubscriptionDoesNotExist,
  persistentSubscriptionExists,
  persistentSubscriptionFailed,
  type RpcFailure,
  unauthenticated,
  unhandled
} from "../errors.ts"
import {
  CONSUMER_STRATEGIES,
  type Group,
  type GroupFilter,
  type GroupSettings,
  type PersistentGroups,
  type StartFrom,
  startFromProblem,
  startFromText
} from "../persistent/PersistentGroups.ts"
import type { Store } from "../storage/Store.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"

/**
 * The methods served (all but `Read` and `TruncateParked`, not implemented yet).
 *
 * @since 0.1.0
 * @category constants
 */
export const PersistentSubscriptionsServiceDefinition: ServiceDefinition = {
  create: PersistentSubscriptionsService.create,
  update: PersistentSubscriptionsService.update,
  delete: PersistentSubscriptionsService.delete,
  getInfo: PersistentSubscriptionsService.getInfo,
  replayParked: PersistentSubscriptionsService.replayParked,
  list: PersistentSubscriptionsService.list,
  restartSubsystem: PersistentSubscriptionsService.restartSubsystem
}

/**
 * What the handler needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface PersistentSubscriptionsContext {
  readonly store: Store
  readonly auth: Auth
  readonly groups: PersistentGroups
}

const ALL = "$all"
const TICKS_PER_MS = 10_000n

const streamName = (id: StreamIdentifier | undefined): string => id === undefined ? "" : id.streamName.toString("utf8")

const who = (principal: Principal): string => principal.login ?? (principal.isSystem ? "system" : "anonymous")

type Settings = CreateReq_Settings | UpdateReq_Settings

const NAMED_STRATEGIES = ["DispatchToSingle", "RoundRobin", "Pinned"]

const settingsOf = (s: Settings | undefined, strategy: string): GroupSettings => {
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

/** The strategy name: the string field (Create only), else the deprecated enum. */
const strategyOf = (s: Settings | undefined): string => {
  const named = s !== undefined && "consumerStrategy" in s ? s.consumerStrategy : ""
  if (named !== "") return named
  const n = s?.namedConsumerStrategy ?? 0
  return NAMED_STRATEGIES[n] ?? String(n)
}

type Target = { readonly stream: string; readonly start: StartFrom; readonly filter: GroupFilter | undefined }

/** The request type's name as the real node's errors spell it (`CreateReq` / `UpdateReq`). */
type Kind = "create" | "update"
const reqName = (kind: Kind) => kind === "create" ? "CreateReq" : "UpdateReq"

/**
 * The stream (or `$all`), start and filter of a Create/Update, or the INVALID_ARGUMENT a real node
 * gives for a oneof left unset ("'None' is not a valid ...OneofCase").
 */
const targetOf = (kind: Kind, options: NonNullable<CreateReq["options"] | UpdateReq["options"]>): Target | RpcFailure => {
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
const targetProblem = (target: Target, viaStream: boolean): string | undefined => {
  if (target.stream === "") return "Bad stream name."
  if (viaStream && target.stream === ALL) return "Persistent subscriptions to $all are only supported over gRPC through gRPC clients"
  return undefined
}

const lastKnownPosition = (store: Store, stream: string): string => {
  if (stream === ALL) {
    const p = store.lastPosition
    return `C:${p}/P:${p}`
  }
  const n = store.lastEventNumber(stream)
  return n < 0 ? "" : String(n)
}

const infoOf = (store: Store, g: Group): SubscriptionInfo => ({
  eventSource: g.stream,
  groupName: g.group,
  status: "Live",
  connections: [],
  averagePerSecond: 0,
  totalItems: 0n,
  countSinceLastMeasurement: 0n,
  lastCheckpointedEventPosition: "",
  lastKnownEventPosition: lastKnownPosition(store, g.stream),
  resolveLinkTos: g.settings.resolveLinkTos,
  startFrom: startFromText(g.startFrom),
  messageTimeoutMilliseconds: g.settings.messageTimeoutMs,
  extraStatistics: g.settings.extraStatistics,
  maxRetryCount: g.settings.maxRetryCount,
  liveBufferSize: g.settings.liveBufferSize,
  bufferSize: g.settings.historyBufferSize,
  readBatchSize: g.settings.readBatchSize,
  checkPointAfterMilliseconds: g.settings.checkPointAfterMs,
  minCheckPointCount: g.settings.minCheckPointCount,
  maxCheckPointCount: g.settings.maxCheckPointCount,
  readBufferCount: 0,
  liveBufferCount: 0n,
  retryBufferCount: 0,
  totalInFlightMessages: 0,
  outstandingMessagesCount: 0,
  namedConsumerStrategy: g.settings.consumerStrategy,
  maxSubscriberCount: g.settings.maxSubscriberCount,
  parkedMessageCount: 0n
})

/** `stream_identifier | all` of Delete, GetInfo, ReplayParked, List. */
const sourceOf = (
  o: { $case: "streamIdentifier"; value: StreamIdentifier } | { $case: "stream"; value: StreamIdentifier } | { $case: "all"; value: Empty } | undefined
): string => o === undefined || o.$case === "all" ? ALL : streamName(o.value)

/**
 * The PersistentSubscriptions service implementation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makePersistentSubscriptionsHandler = (ctx: PersistentSubscriptionsContext): ServiceImplementation => {
  const { auth, groups, store } = ctx

  /** The caller, if allowed; `operator` = admins or ops (PROTOCOL.md §7). */
  const principalFor = (call: ServerCall, operator: boolean): Principal | RpcFailure => {
    const result = auth.authenticate(call.metadata)
    if (result._tag === "Unauthenticated") return unauthenticated()
    const principal = result.principal
    if (operator ? !auth.isOperator(principal) : !(auth.insecure || principal.isAuthenticated)) return accessDenied()
    return principal
  }
  const isFailure = (p: Principal | RpcFailure): p is RpcFailure => p instanceof Error

  /** Replies once the configuration written is durable (with `db`). */
  const afterWrite = <A>(callback: UnaryCallback<A>, reply: A) =>
    store.whenDurable((error) => (error === undefined ? callback(null, reply) : callback(unhandled())))

  const write = (
    kind: Kind,
    call: ServerCall,
    options: CreateReq["options"] | UpdateReq["options"],
    callback: UnaryCallback<CreateResp | UpdateResp>
  ) => {
    // a real node reads `request.Options.Settings` first: without options, a NullReferenceException
    if (options === undefined) return callback(unhandled())
    const principal = principalFor(call, true)
    if (isFailure(principal)) return callback(principal)
    // ... and the settings' fields after the access check
    if (options.settings === undefined) return callback(unhandled())
    const groupName = options.groupName
    const target = targetOf(kind, options)
    if (target instanceof Error) return callback(target)
    const problem = targetProblem(target, options.streamOption?.$case !== "all")
    if (problem !== undefined) return callback(persistentSubscriptionFailed(target.stream, groupName, problem))
    const existing = groups.get(target.stream, groupName)
    if (kind === "update" && existing === undefined) {
      return callback(persistentSubscriptionDoesNotExist(target.stream, groupName))
    }
    const strategy = strategyOf(options.settings)
    if (!CONSUMER_STRATEGIES.includes(strategy)) {
      return callback(persistentSubscriptionFailed(target.stream, groupName, `Consumer strategy ${strategy} does not exist.`))
    }
    const startProblem = startFromProblem(target.start, store.lastPosition)
    if (startProblem !== undefined) return callback(persistentSubscriptionFailed(target.stream, groupName, startProblem))
    if (kind === "create" && existing !== undefined) return callback(persistentSubscriptionExists(target.stream, groupName))
    try {
      groups.put({
        stream: target.stream,
        group: groupName,
        startFrom: target.start,
        // an update keeps the `$all` group's filter (it cannot give one)
        filter: kind === "update" ? existing?.filter : target.filter,
        settings: settingsOf(options.settings, strategy)
      }, who(principal))
    } catch {
      return callback(unhandled())
    }
    afterWrite(callback, {})
  }

  return {
    create: (call: ServerCall<CreateReq, CreateResp>, callback: UnaryCallback<CreateResp>) =>
      write("create", call, call.request.options, callback),

    update: (call: ServerCall<UpdateReq, UpdateResp>, callback: UnaryCallback<UpdateResp>) =>
      write("update", call, call.request.options, callback),

    delete: (call: ServerCall<DeleteReq, DeleteResp>, callback: UnaryCallback<DeleteResp>) => {
      // without options or a stream option, the real handler throws (UNKNOWN)
      if (call.request.options?.streamOption === undefined) return callback(unhandled())
      const principal = principalFor(call, true)
      if (isFailure(principal)) return callback(principal)
      const stream = sourceOf(call.request.options?.streamOption)
      const group = call.request.options?.groupName ?? ""
      if (groups.get(stream, group) === undefined) return callback(persistentSubscriptionDoesNotExist(stream, group))
      try {
        groups.remove(stream, group, who(principal))
      } catch {
        return callback(unhandled())
      }
      afterWrite(callback, {})
    },

    getInfo: (call: ServerCall<GetInfoReq, GetInfoResp>, callback: UnaryCallback<GetInfoResp>) => {
      // without options or a stream option, the real handler throws (UNKNOWN)
      if (call.request.options?.streamOption === undefined) return callback(unhandled())
      const principal = principalFor(call, false)
      if (isFailure(principal)) return callback(principal)
      const stream = sourceOf(call.request.options?.streamOption)
      const group = call.request.options?.groupName ?? ""
      const found = groups.get(stream, group)
      if (found === undefined) return callback(persistentSubscriptionDoesNotExist(stream, group))
      callback(null, { subscriptionInfo: infoOf(store, found) })
    },

    replayParked: (call: ServerCall<ReplayParkedReq, ReplayParkedResp>, callback: UnaryCallback<ReplayParkedResp>) => {
      // without options or a stream option, the real handler throws (UNKNOWN)
      if (call.request.options?.streamOption === undefined) return callback(unhandled())
      const principal = principalFor(call, true)
      if (isFailure(principal)) return callback(principal)
      const stream = sourceOf(call.request.options?.streamOption)
      const group = call.request.options?.groupName ?? ""
      if (groups.get(stream, group) === undefined) return callback(persistentSubscriptionDoesNotExist(stream, group))
      // no consumer runs yet, so nothing is ever parked: replaying has nothing to do
      callback(null, {})
    },

    list: (call: ServerCall<ListReq, ListResp>, callback: UnaryCallback<ListResp>) => {
      if (call.request.options === undefined) return callback(unhandled())
      const principal = principalFor(call, false)
      if (isFailure(principal)) return callback(principal)
      const option = call.request.options?.listOption
      if (option?.$case === "listForStream") {
        const stream = sourceOf(option.value.streamOption)
        const found = groups.ofStream(stream)
        if (found.length === 0) return callback(persistentSubscriptionDoesNotExist(stream, ""))
        return callback(null, { subscriptions: found.map((g) => infoOf(store, g)) })
      }
      callback(null, { subscriptions: groups.all().map((g) => infoOf(store, g)) })
    },

    restartSubsystem: (call: ServerCall<Empty, Empty>, callback: UnaryCallback<Empty>) => {
      const principal = principalFor(call, true)
      if (isFailure(principal)) return callback(principal)
      // stop and start: the groups are read back from their configuration
      groups.load()
      callback(null, {})
    }
  }
}
