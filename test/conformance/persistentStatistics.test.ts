/**
 * GetInfo's live statistics seen by the official client (PersistentSubscriptionStats and
 * RequestStatistics of the real node): while a consumer takes and acks events, `averagePerSecond`
 * and the connection's `averageItemsPerSecond` are not 0; with `extraStatistics` the connection's
 * `extraStatistics` map holds exactly the keys the official client knows (the node's keys,
 * lowercased by the client); once the group is idle the rates fall to 0.
 *
 * The official client (1.3.1) has no call for TruncateParked, so it is not tested here.
 */
import { describe, expect, it } from "vitest"
import {
  jsonEvent,
  type KurrentDBClient,
  persistentSubscriptionToStreamSettingsFromDefaults,
  START
} from "@kurrent/kurrentdb-client"
import { eventuallyAsync, sleep, uniqueStream, useNode } from "./_support.ts"

let client: KurrentDBClient

useNode({ insecure: true }, (_n, c) => {
  client = c
})

const EXTRA_KEYS = [
  "mean",
  "median",
  "fastest",
  "quintile 1",
  "quintile 2",
  "quintile 3",
  "quintile 4",
  "quintile 5",
  "90%",
  "95%",
  "99%",
  "99.5%",
  "99.9%",
  "highest"
]

describe("persistent subscription statistics", () => {
  it("rates while consuming, the extra statistics keys, and 0 once idle", async () => {
    const stream = uniqueStream("ps-stats")
    const group = uniqueStream("g")
    await client.createPersistentSubscriptionToStream(
      stream,
      group,
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START, extraStatistics: true })
    )
    const subscription = client.subscribeToPersistentSubscriptionToStream(stream, group, { bufferSize: 20 })
    let received = 0
    const consuming = (async () => {
      for await (const e of subscription) {
        received++
        await subscription.ack(e)
      }
    })()
    let appended = 0
    let producing = true
    const producer = (async () => {
      while (producing) {
        await client.appendToStream(stream, Array.from({ length: 5 }, (_, i) => jsonEvent({ type: "e", data: { i } })))
        appended += 5
        await sleep(20)
      }
    })()
    try {
      const busy = await eventuallyAsync("statistics of a busy group", () => client.getPersistentSubscriptionToStreamInfo(stream, group), {
        until: (info) => {
          const connection = info.connections[0]
          return info.stats.averagePerSecond > 0 && connection !== undefined && connection.averageItemsPerSecond > 0 &&
            (connection.extraStatistics?.size ?? 0) > 0
        },
        intervalMs: 20
      })
      expect(busy.stats.countSinceLastMeasurement).toBeGreaterThan(0n)
      expect([...busy.connections[0]!.extraStatistics!.keys()]).toEqual(EXTRA_KEYS)
      producing = false
      await producer
      await eventuallyAsync("every event consumed", () => received === appended)
      await eventuallyAsync("statistics of an idle group", () => client.getPersistentSubscriptionToStreamInfo(stream, group), {
        until: (info) =>
          info.stats.totalInFlightMessages === 0 && info.stats.averagePerSecond === 0 &&
          info.stats.countSinceLastMeasurement === 0n && info.connections[0]?.averageItemsPerSecond === 0,
        intervalMs: 20
      })
    } finally {
      producing = false
      await producer
      await subscription.unsubscribe()
      await consuming.catch(() => undefined)
    }
  })
})
