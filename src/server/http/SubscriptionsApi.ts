/**
 * A real node's HTTP persistent subscriptions API, read-mostly: `GET /subscriptions` (every
 * group with its live statistics), `GET /subscriptions/{stream}` (its groups),
 * `GET /subscriptions/{stream}/{group}/info` (settings, statistics, connections, parked count)
 * and `POST /subscriptions/{stream}/{group}/replayParked`. Access as the gRPC API's: listing and
 * info for users, replaying parked messages for operators. The parked messages themselves are a
 * stream (`parkedMessageUri`), read through the streams API under its ACL.
 *
 * @since 0.1.0
 */
import { Access, type Auth } from "../Auth.ts"
import type { ConsumerGroup } from "../persistent/ConsumerGroup.ts"
import { type Group, startFromText } from "../persistent/Group.ts"
import type { PersistentGroups } from "../persistent/PersistentGroups.ts"
import type { Store } from "../storage/Store.ts"
import { authorize, baseUrl, type HttpExchange, json, methodNotAllowed, text } from "./HttpExchange.ts"

/**
 * What the subscriptions API needs of the node.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscriptionsApiContext {
  readonly store: Store
  readonly auth: Auth
  readonly groups: PersistentGroups
}

const parkedStream = (g: Group) => `$persistentsubscription-${g.stream}::${g.group}-parked`

/**
 * The handler of `/subscriptions/...`: answers and returns true for paths it serves.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeSubscriptionsApi = (ctx: SubscriptionsApiContext) => {
  const { auth, groups, store } = ctx

  const parkedCount = (g: Group): number => {
    const view = store.view(parkedStream(g))
    return view._tag === "Ok" ? Math.max(0, view.last - view.first + 1) : 0
  }

  const lastKnown = (g: Group): number => (g.stream === "$all" ? store.lastPosition : store.lastEventNumber(g.stream))

  const summaryOf = (base: string, g: Group, running: ConsumerGroup | undefined) => {
    const self = `${base}/subscriptions/${encodeURIComponent(g.stream)}/${encodeURIComponent(g.group)}`
    const measured = running?.measure()
    const checkpoint = running?.lastCheckpointText ?? ""
    return {
      links: [{ href: `${self}/info`, rel: "detail" }, { href: `${self}/replayParked`, rel: "replayParked" }],
      eventStreamId: g.stream,
      groupName: g.group,
      parkedMessageUri: `${base}/streams/${encodeURIComponent(parkedStream(g))}`,
      getMessagesUri: `${self}/1`,
      status: running === undefined ? "Idle" : running.isReplaying ? "ReplayingParkedMessages" : "Live",
      averageItemsPerSecond: measured?.averagePerSecond ?? 0,
      totalItemsProcessed: running?.totalItems ?? 0,
      countSinceLastMeasurement: measured?.countSinceLastMeasurement ?? 0,
      lastCheckpointedEventPosition: checkpoint,
      lastProcessedEventNumber: /^\d+$/.test(checkpoint) ? Number(checkpoint) : -1,
      lastKnownEventNumber: lastKnown(g),
      connectionCount: running?.consumers.length ?? 0,
      totalInFlightMessages: running?.inFlightCount ?? 0,
      retryBufferCount: running?.retryCount ?? 0,
      parkedMessageCount: parkedCount(g),
      connections: (measured?.connections ?? []).map(({ consumer: c, ...m }) => ({
        from: c.from,
        username: c.username,
        averageItemsPerSecond: m.averageItemsPerSecond,
        totalItems: c.totalItems,
        countSinceLastMeasurement: m.countSinceLastMeasurement,
        availableSlots: c.capacity - c.inFlight,
        inFlightMessages: c.inFlight,
        connectionName: c.connectionName
      }))
    }
  }

  const infoOf = (base: string, g: Group) => ({
    ...summaryOf(base, g, groups.runningGroup(g.stream, g.group)),
    config: {
      resolveLinktos: g.settings.resolveLinkTos,
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
      maxSubscriberCount: g.settings.maxSubscriberCount,
      namedConsumerStrategy: g.settings.consumerStrategy
    }
  })

  const replay = (ex: HttpExchange, stream: string, group: string) => {
    if (authorize(auth, ex, Access.operator) === undefined) return
    if (groups.get(stream, group) === undefined) return text(ex.res, 404, "Not Found")
    const running = groups.start(stream, group)
    if (running === undefined) return text(ex.res, 404, "Not Found")
    try {
      running.replayParked(undefined)
    } catch {
      return text(ex.res, 500, "Replay failed")
    }
    store.whenDurable((error) =>
      error === undefined ? json(ex.res, 200, { result: "Success", reason: "" }) : text(ex.res, 503, "Not durable")
    )
  }

  return (ex: HttpExchange): boolean => {
    const [root, stream, group, action, ...rest] = ex.segments
    if (root !== "subscriptions" || rest.length > 0) return false
    const method = ex.req.method ?? "GET"
    ex.req.resume()
    if (action === "replayParked" && stream !== undefined && group !== undefined) {
      if (method !== "POST") methodNotAllowed(ex.res, "POST")
      else replay(ex, stream, group)
      return true
    }
    if (method !== "GET" && method !== "HEAD") {
      methodNotAllowed(ex.res, "GET")
      return true
    }
    if (authorize(auth, ex, Access.user) === undefined) return true
    const base = baseUrl(ex.req)
    if (stream === undefined) {
      json(ex.res, 200, groups.all().map((g) => summaryOf(base, g, groups.runningGroup(g.stream, g.group))))
    } else if (group === undefined) {
      json(ex.res, 200, groups.ofStream(stream).map((g) => summaryOf(base, g, groups.runningGroup(g.stream, g.group))))
    } else if (action === undefined || action === "info") {
      const found = groups.get(stream, group)
      if (found === undefined) text(ex.res, 404, "Not Found")
      else json(ex.res, 200, infoOf(base, found))
    } else text(ex.res, 404, "Not Found")
    return true
  }
}
