/**
 * `event_store.client.persistent_subscriptions.PersistentSubscriptions`: managing the groups
 * (Create, Update, Delete, GetInfo, List, ReplayParked, TruncateParked, RestartSubsystem) as
 * PROTOCOL.md §4 describes, with the statuses, trailers and texts of a real node. A single
 * embedded node is always the leader, so the leader-only methods are always served.
 *
 * `Read` connects a consumer to a running group (src/server/persistent/ConsumerGroup.ts): the
 * first request must be its options; then events flow as the group decides and acks/nacks come
 * back.
 *
 * @since 0.1.0
 */
import {
  type CreateReq,
  type CreateResp,
  type DeleteReq,
  type DeleteResp,
  type GetInfoReq,
  type GetInfoResp,
  type ListReq,
  type ListResp,
  PersistentSubscriptionsService,
  type ReadReq,
  ReadReq_Nack_Action,
  type ReadResp,
  type ReadResp_ReadEvent_RecordedEvent,
  type ReplayParkedReq,
  type ReplayParkedResp,
  type SubscriptionInfo,
  type TruncateParkedReq,
  type TruncateParkedResp,
  type UpdateReq,
  type UpdateResp
} from "../../generated/persistent.ts"
import type { Empty, StreamIdentifier } from "../../generated/shared.ts"
import { Access, type Auth, type Principal } from "../Auth.ts"
import { fromWire, toStringForm, toStructured } from "../codec/Uuid.ts"
import { Consumer } from "../persistent/Consumer.ts"
import type { ConsumerGroup, NackAction } from "../persistent/ConsumerGroup.ts"
import { CONSUMER_STRATEGIES, type Group, groupStreams, startFromProblem, startFromText } from "../persistent/Group.ts"
import type { Message } from "../persistent/Message.ts"
import { parkedMessageCount } from "../persistent/ParkedMessages.ts"
import type { PersistentGroups } from "../persistent/PersistentGroups.ts"
import {
  invalidArgument,
  logFailed,
  writeFailed,
  maximumSubscribersReached,
  persistentSubscriptionDoesNotExist,
  persistentSubscriptionExists,
  persistentSubscriptionDropped,
  persistentSubscriptionFailed,
  type RpcFailure,
  unhandled
} from "../errors.ts"
import { type EventRecord, type Store, wireRevision } from "../storage/Store.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"
import {
  ALL,
  type Kind,
  READ_BATCH_TOO_LARGE,
  settingsOf,
  strategyOf,
  streamName,
  targetOf,
  targetProblem
} from "../persistent/PersistentRequest.ts"

/**
 * The methods served: every method of the service, as a real node that has `TruncateParked`
 * (ServerFeatures lists them from here).
 *
 * @since 0.1.0
 * @category constants
 */
export const PersistentSubscriptionsServiceDefinition: ServiceDefinition = {
  create: PersistentSubscriptionsService.create,
  update: PersistentSubscriptionsService.update,
  delete: PersistentSubscriptionsService.delete,
  getInfo: PersistentSubscriptionsService.getInfo,
  read: PersistentSubscriptionsService.read,
  replayParked: PersistentSubscriptionsService.replayParked,
  truncateParked: PersistentSubscriptionsService.truncateParked,
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



const who = (principal: Principal): string => principal.login ?? (principal.isSystem ? "system" : "anonymous")

const lastKnownPosition = (store: Store, stream: string): string => {
  if (stream === ALL) {
    const p = store.lastPosition
    return `C:${p}/P:${p}`
  }
  const n = store.lastEventNumber(stream)
  return n < 0 ? "" : String(n)
}

/**
 * GetInfo's (and List's) view of a group. Like a real node's, it takes a measurement of the
 * running group: the rates and counts since the previous one (GroupStatistics.ts). The node reads
 * events on demand, so it has no read or live buffer: their counts are 0.
 */
const infoOf = (store: Store, g: Group, running: ConsumerGroup | undefined): SubscriptionInfo => {
  const measured = running?.measure()
  return {
    eventSource: g.stream,
    groupName: g.group,
    status: running?.isReplaying === true ? "ReplayingParkedMessages" : "Live",
    connections: (measured?.connections ?? []).map(({ consumer: c, ...m }) => ({
      from: c.from,
      username: c.username,
      averageItemsPerSecond: m.averageItemsPerSecond,
      totalItems: BigInt(c.totalItems),
      countSinceLastMeasurement: BigInt(m.countSinceLastMeasurement),
      observedMeasurements: [...m.observedMeasurements],
      availableSlots: c.capacity - c.inFlight,
      inFlightMessages: c.inFlight,
      connectionName: c.connectionName
    })),
    averagePerSecond: measured?.averagePerSecond ?? 0,
    totalItems: BigInt(running?.totalItems ?? 0),
    countSinceLastMeasurement: BigInt(measured?.countSinceLastMeasurement ?? 0),
    lastCheckpointedEventPosition: running?.lastCheckpointText ?? "",
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
    retryBufferCount: running?.retryCount ?? 0,
    totalInFlightMessages: running?.inFlightCount ?? 0,
    outstandingMessagesCount: running?.inFlightCount ?? 0,
    namedConsumerStrategy: g.settings.consumerStrategy,
    maxSubscriberCount: g.settings.maxSubscriberCount,
    parkedMessageCount: BigInt(parkedMessageCount(store, groupStreams(g.stream, g.group).parked))
  }
}

const recordedOf = (record: EventRecord, position: bigint, structured: boolean): ReadResp_ReadEvent_RecordedEvent => ({
  id: structured ? toStructured(record.eventId) : toStringForm(record.eventId),
  streamIdentifier: { streamName: record.streamBytes },
  streamRevision: wireRevision(record),
  preparePosition: position,
  commitPosition: position,
  metadata: [
    { key: "type", value: record.eventType },
    { key: "created", value: record.created },
    { key: "content-type", value: record.isJson ? "application/json" : "application/octet-stream" }
  ],
  customMetadata: record.customMetadata,
  data: record.data
})

/** A `ReadResp.event`: the event (the link's target when resolved) and the link, at the original position. */
const eventOf = (message: Message, structured: boolean): ReadResp => {
  const position = BigInt(message.record.position)
  const resolved = message.resolved
  return {
    content: {
      $case: "event",
      value: {
        event: recordedOf(resolved ?? message.record, position, structured),
        link: resolved === undefined ? undefined : recordedOf(message.record, position, structured),
        position: { $case: "commitPosition", value: position },
        count: { $case: "retryCount", value: message.retryCount }
      }
    }
  }
}

const NACK_ACTIONS: Record<number, NackAction> = {
  [ReadReq_Nack_Action.Unknown]: "unknown",
  [ReadReq_Nack_Action.Park]: "park",
  [ReadReq_Nack_Action.Retry]: "retry",
  [ReadReq_Nack_Action.Skip]: "skip",
  [ReadReq_Nack_Action.Stop]: "stop"
}

/** Ack/nack ids as canonical UUID text (malformed ids are ignored, as a real node finds no such message). */
const idsOf = (ids: ReadonlyArray<Parameters<typeof fromWire>[0]>): Array<string> => {
  const out: Array<string> = []
  for (const id of ids) {
    const text = fromWire(id)
    if (text !== undefined) out.push(text)
  }
  return out
}

/** A non-negative `stop_at` as a number: past the largest exact one, no parked stream is that long. */
const eventNumberOf = (value: bigint): number => value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value)

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
  const principalFor = (call: ServerCall, operator: boolean): Principal | RpcFailure =>
    auth.authorize(call.metadata, operator ? Access.operator : Access.user)
  const isFailure = (p: Principal | RpcFailure): p is RpcFailure => p instanceof Error

  /** Replies once the configuration written is durable (with `db`). */
  const afterWrite = <A>(callback: UnaryCallback<A>, reply: A) =>
    store.whenDurable((error) => (error === undefined ? callback(null, reply) : callback(writeFailed(error))))

  /**
   * ReplayParked and TruncateParked (one request shape): a real node checks access first, then
   * reads the options (missing, or a oneof left unset, is an exception there: UNKNOWN), refuses a
   * negative `stop_at` before looking for the group, then acts on the running group.
   */
  const parkedOperation = (
    call: ServerCall<{ readonly options?: ReplayParkedReq["options"] }>,
    callback: UnaryCallback<ReplayParkedResp | TruncateParkedResp>,
    negative: string,
    act: (running: ConsumerGroup, stopAt: number | undefined) => void
  ) => {
    const principal = principalFor(call, true)
    if (isFailure(principal)) return callback(principal)
    const options = call.request.options
    if (options?.streamOption === undefined || options.stopAtOption === undefined) return callback(unhandled())
    const stream = sourceOf(options.streamOption)
    const group = options.groupName
    const stop = options.stopAtOption
    if (stop.$case === "stopAt" && stop.value < 0n) return callback(persistentSubscriptionFailed(stream, group, negative))
    const running = groups.start(stream, group)
    if (running === undefined) return callback(persistentSubscriptionDoesNotExist(stream, group))
    try {
      act(running, stop.$case === "stopAt" ? eventNumberOf(stop.value) : undefined)
    } catch {
      return callback(unhandled())
    }
    afterWrite(callback, {})
  }

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
    const settings = settingsOf(options.settings, strategy)
    // a real node builds the group next, whose constructor refuses a read batch that does not fit
    // the history buffer (an ArgumentOutOfRangeException, answered as a failure with its message)
    if (settings.readBatchSize >= settings.historyBufferSize) {
      return callback(persistentSubscriptionFailed(target.stream, groupName, READ_BATCH_TOO_LARGE))
    }
    try {
      groups.put({
        stream: target.stream,
        group: groupName,
        startFrom: target.start,
        // an update keeps the `$all` group's filter (it cannot give one)
        filter: kind === "update" ? existing?.filter : target.filter,
        settings
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
      callback(null, { subscriptionInfo: infoOf(store, found, groups.runningGroup(stream, group)) })
    },

    replayParked: (call: ServerCall<ReplayParkedReq, ReplayParkedResp>, callback: UnaryCallback<ReplayParkedResp>) =>
      parkedOperation(call, callback, "Cannot stop replaying parked message at a negative version.", (running, stopAt) =>
        running.replayParked(stopAt)),

    truncateParked: (call: ServerCall<TruncateParkedReq, TruncateParkedResp>, callback: UnaryCallback<TruncateParkedResp>) =>
      parkedOperation(call, callback, "Cannot truncate parked messages at a negative version.", (running, stopAt) =>
        running.truncateParked(stopAt)),

    list: (call: ServerCall<ListReq, ListResp>, callback: UnaryCallback<ListResp>) => {
      if (call.request.options === undefined) return callback(unhandled())
      const principal = principalFor(call, false)
      if (isFailure(principal)) return callback(principal)
      const option = call.request.options?.listOption
      if (option?.$case === "listForStream") {
        const stream = sourceOf(option.value.streamOption)
        const found = groups.ofStream(stream)
        if (found.length === 0) return callback(persistentSubscriptionDoesNotExist(stream, ""))
        return callback(null, { subscriptions: found.map((g) => infoOf(store, g, groups.runningGroup(g.stream, g.group))) })
      }
      callback(null, { subscriptions: groups.all().map((g) => infoOf(store, g, groups.runningGroup(g.stream, g.group))) })
    },

    read: (call: ServerCall<ReadReq, ReadResp>) => {
      let running: ConsumerGroup | undefined
      let consumer: Consumer | undefined
      let stream = ""
      let group = ""
      const leave = () => {
        if (running !== undefined && consumer !== undefined) running.remove(consumer)
        consumer = undefined
      }
      const fail = (failure: RpcFailure) => {
        leave()
        call.sendStatus(failure)
      }
      // A real node reads acks and nacks in a pump beside its loop of events. A request that pump
      // cannot map (a second options message, an empty request, a nack action it does not know)
      // throws there (`RpcExceptions.InvalidArgument`), and its catch ends the pump quietly: the
      // request does nothing, nor does any the client sends after it, while events keep coming.
      let pumping = true
      call.on("cancelled", leave)
      // the output drained: the consumer takes messages again
      call.on("drain", () => {
        if (running === undefined || consumer === undefined) return
        consumer.paused = false
        running.pump()
      })
      // The client half-closed. Before the options, the call ends (OK), as a real node's `Read`
      // returns when its first `MoveNext` finds nothing. After them, a half-close only ends what
      // the client sends: a real node reads acks and nacks in a separate pump, which just stops,
      // while its loop keeps writing events until the call is cancelled (RST_STREAM, or the
      // connection lost) or the consumer is dropped. Events keep coming, and stay in flight.
      call.on("end", () => {
        if (call.closed || running !== undefined) return
        call.end()
      })
      call.on("data", (request: ReadReq) => {
        if (call.closed) return
        const content = request.content
        if (running === undefined) {
          // the first request must be the options
          if (content?.$case !== "options") return fail(unhandled())
          const options = content.value
          if (options.streamOption === undefined) return fail(unhandled())
          const principal = principalFor(call, false)
          if (isFailure(principal)) return fail(principal)
          stream = sourceOf(options.streamOption)
          group = options.groupName
          if (!Number.isInteger(options.bufferSize) || options.bufferSize <= 0) {
            return fail(invalidArgument("buffer_size must be greater than 0."))
          }
          const found = groups.start(stream, group)
          if (found === undefined) return fail(persistentSubscriptionDoesNotExist(stream, group))
          const max = found.group.settings.maxSubscriberCount
          if (max > 0 && found.consumers.length >= max) return fail(maximumSubscribersReached(stream, group))
          running = found
          const structured = options.uuidOption?.content?.$case === "structured"
          call.write({ content: { $case: "subscriptionConfirmation", value: { subscriptionId: `${stream}::${group}` } } })
          const connectionName = call.metadata.get("connection-name")[0]
          consumer = new Consumer(
            options.bufferSize,
            call.peer,
            who(principal),
            typeof connectionName === "string" ? connectionName : "",
            {
              send: (message) => call.write(eventOf(message, structured)),
              drop: () => {
                consumer = undefined
                call.sendStatus(persistentSubscriptionDropped(stream, group))
              }
            }
          )
          running.add(consumer)
          return
        }
        // dropped (its group was updated, deleted or restarted), or the pump ended: nothing more is read
        if (consumer === undefined || !pumping) return
        if (content?.$case === "ack") {
          running.ack(idsOf(content.value.ids))
        } else if (content?.$case === "nack") {
          const action = NACK_ACTIONS[content.value.action]
          if (action === undefined) {
            pumping = false
            return
          }
          running.nack(idsOf(content.value.ids), action, content.value.reason)
        } else {
          pumping = false
        }
      })
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
