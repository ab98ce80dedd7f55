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
import { eventually, sleep, uniqueStream, useNode } from "./_support.ts"

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
      let busy: Awaited<ReturnType<typeof client.getPersistentSubscriptionToStreamInfo>> | undefined
      for (let i = 0; i < 250 && busy === undefined; i++) {
        const info = await client.getPersistentSubscriptionToStreamInfo(stream, group)
        const connection = info.connections[0]
        if (
          info.stats.averagePerSecond > 0 && connection !== undefined && connection.averageItemsPerSecond > 0 &&
          (connection.extraStatistics?.size ?? 0) > 0
        ) busy = info
        else await sleep(20)
      }
      expect(busy).toBeDefined()
      expect(busy!.stats.countSinceLastMeasurement).toBeGreaterThan(0n)
      expect([...busy!.connections[0]!.extraStatistics!.keys()]).toEqual(EXTRA_KEYS)
      producing = false
      await producer
      await eventually("every event consumed", () => received === appended)
      let idle = false
      for (let i = 0; i < 250 && !idle; i++) {
        const info = await client.getPersistentSubscriptionToStreamInfo(stream, group)
        idle = info.stats.totalInFlightMessages === 0 && info.stats.averagePerSecond === 0 &&
          info.stats.countSinceLastMeasurement === 0n && info.connections[0]?.averageItemsPerSecond === 0
        if (!idle) await sleep(20)
      }
      expect(idle).toBe(true)
    } finally {
      producing = false
      await producer
      await subscription.unsubscribe()
      await consuming.catch(() => undefined)
    }
  })
})
