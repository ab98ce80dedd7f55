/**
 * The README's persistent-subscription examples, as one program: run by test/examples.test.ts
 * against an embedded node, so they are known to compile and work.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import {
  NewEvent,
  PersistentSubscriptions,
  PersistentSubscriptionSettings,
  type RecordedEvent,
  Streams
} from "../src/index.ts"

export const persistentTour = (suffix: string) =>
  Effect.gen(function*() {
    const groups = yield* PersistentSubscriptions.PersistentSubscriptions
    const orders = `orders-${suffix}`
    const billing = `billing-${suffix}`
    const audit = `audit-${suffix}`

    // Create a group on a stream, and on $all with a filter
    yield* groups.createToStream(orders, billing, {
      from: "start",
      settings: { maxRetryCount: 3, consumerStrategy: "Pinned" }
    })
    yield* groups.createToAll(audit, {
      from: "end",
      filterInclude: ["Order.*"],
      settings: new PersistentSubscriptionSettings({ extraStatistics: true })
    })
    const again = yield* groups.createToStream(orders, billing).pipe(
      Effect.as("created"),
      Effect.catchTag("SubscriptionAlreadyExists", () => Effect.succeed("exists"))
    )

    // Get info, list
    const info = yield* groups.getInfoToStream(orders, billing)
    const everyGroup = yield* groups.list()
    const ofOrders = yield* groups.listToStream(orders)
    const ofAll = yield* groups.listToAll()

    // Update: settings not given keep their values
    yield* groups.updateToStream(orders, billing, { settings: { maxRetryCount: 5 } })
    yield* groups.updateToAll(audit, { from: "start" })
    const updated = yield* groups.getInfoToStream(orders, billing)

    // Replay parked events, restart the subsystem
    yield* groups.replayParkedToStream(orders, billing, { stopAt: 100 })
    yield* groups.restartSubsystem()

    // Delete
    yield* groups.deleteToStream(orders, billing)
    yield* groups.deleteToAll(audit)
    const afterDelete = yield* groups.getInfoToStream(orders, billing).pipe(
      Effect.as("still there"),
      Effect.catchTag("SubscriptionNotFound", () => Effect.succeed("deleted"))
    )

    return {
      again,
      startFrom: info.startFrom,
      strategy: info.consumerStrategy,
      listed: everyGroup.some((g) => g.groupName === billing) && ofOrders.length === 1 &&
        ofAll.some((g) => g.groupName === audit),
      updated: [updated.maxRetryCount, updated.consumerStrategy] as const,
      afterDelete
    }
  })

/**
 * The README's consumer example: a handler that fails on some events; failures are nacked
 * `retry` until the third retry, then `park`. Runs until `count` events were acked or parked.
 */
export const consumerTour = (suffix: string, count: number) =>
  Effect.scoped(Effect.gen(function*() {
    const groups = yield* PersistentSubscriptions.PersistentSubscriptions
    const streams = yield* Streams.Streams
    const orders = `orders-${suffix}`
    yield* streams.append(orders, Array.from({ length: count }, (_, i) => NewEvent.json("OrderPlaced", { i })), {
      currentVersion: "no_stream"
    })
    yield* groups.createToStream(orders, "billing", { from: "start", settings: { maxRetryCount: 5 } })
    // fails on every third event, always
    const handle = (event: RecordedEvent) =>
      (JSON.parse(event.dataText) as { i: number }).i % 3 === 0 ? Effect.fail("cannot bill") : Effect.void
    const acked: Array<bigint> = []
    const parked: Array<bigint> = []

    const billing = yield* groups.readToStream(orders, "billing", { bufferSize: 20 })
    yield* billing.events.pipe(
      Stream.mapEffect((event) =>
        handle(event).pipe(
          Effect.andThen(billing.ack(event)),
          Effect.andThen(Effect.sync(() => acked.push(event.streamPosition))),
          // retry: delivered again with retryCount + 1; parked after the third retry
          Effect.catch((e) => {
            const park = event.retryCount! >= 3
            return billing.nack(event, park ? "park" : "retry", String(e)).pipe(
              Effect.andThen(Effect.sync(() => park && parked.push(event.streamPosition)))
            )
          })
        )
      ),
      Stream.takeUntil(() => acked.length + parked.length === count),
      Stream.runDrain
    )
    return { acked: acked.length, parked: [...parked].sort((a, b) => Number(a - b)) }
  }))

/**
 * The README's chunked consumer: each chunk of events handled, then acked with one call. Runs until
 * `count` events were acked; a group read again afterwards has nothing left to deliver.
 */
export const chunkedTour = (suffix: string, count: number) =>
  Effect.gen(function*() {
    const groups = yield* PersistentSubscriptions.PersistentSubscriptions
    const streams = yield* Streams.Streams
    const orders = `orders-chunked-${suffix}`
    yield* streams.append(orders, Array.from({ length: count }, (_, i) => NewEvent.json("OrderPlaced", { i })), {
      currentVersion: "no_stream"
    })
    yield* groups.createToStream(orders, "billing", { from: "start" })
    const handled: Array<bigint> = []
    const handle = (event: RecordedEvent) => Effect.sync(() => handled.push(event.streamPosition))
    yield* Effect.scoped(Effect.gen(function*() {
      const billing = yield* groups.readToStream(orders, "billing", { bufferSize: 20 })
      yield* billing.events.pipe(
        Stream.take(count),
        Stream.runForEachArray((events) =>
          Effect.forEach(events, handle, { discard: true }).pipe(Effect.andThen(billing.ack(events)))
        )
      )
    }))
    // every event was acked: the group has none in flight and none to retry
    const info = yield* groups.getInfoToStream(orders, "billing")
    return { handled: handled.length, inFlight: info.totalInFlightMessages, retry: info.retryBufferCount }
  })

/**
 * The README's parked events: five events parked, the first two dropped with `stopAt`, then the
 * rest; a `$all` group with nothing parked truncates too.
 */
export const parkedTour = (suffix: string) =>
  Effect.gen(function*() {
    const groups = yield* PersistentSubscriptions.PersistentSubscriptions
    const streams = yield* Streams.Streams
    const orders = `orders-parked-${suffix}`
    const audit = `audit-parked-${suffix}`
    yield* streams.append(orders, Array.from({ length: 5 }, (_, i) => NewEvent.json("OrderPlaced", { i })), {
      currentVersion: "no_stream"
    })
    yield* groups.createToStream(orders, "billing", { from: "start" })
    yield* groups.createToAll(audit)
    // every event parked at once
    yield* Effect.scoped(Effect.gen(function*() {
      const billing = yield* groups.readToStream(orders, "billing", { bufferSize: 5, ackDelay: 0 })
      yield* billing.events.pipe(Stream.take(5), Stream.runForEach((event) => billing.nack(event, "park", "cannot bill")))
    }))
    // the scope closed once the node had read the nacks: all five are parked
    const parked = (yield* groups.getInfoToStream(orders, "billing")).parkedMessageCount

    // drop the events parked before parked-stream event number 2 (the first 2 ever parked)
    yield* groups.truncateParkedToStream(orders, "billing", { stopAt: 2 })
    const afterStopAt = (yield* groups.getInfoToStream(orders, "billing")).parkedMessageCount
    // drop everything parked so far
    yield* groups.truncateParkedToStream(orders, "billing")
    const afterAll = (yield* groups.getInfoToStream(orders, "billing")).parkedMessageCount
    // on $all
    yield* groups.truncateParkedToAll(audit)
    yield* groups.deleteToAll(audit)
    return { parked, afterStopAt, afterAll }
  })
