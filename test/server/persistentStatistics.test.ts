/**
 * A group's live statistics as a real node computes them (PersistentSubscriptionStats,
 * RequestStatistics), on a group driven directly with a chosen clock: the messages pushed since
 * the previous measurement over the time since then (integer items per second), for the group and
 * for each connection over the group's window; each measurement starts the next window; with
 * extraStatistics, each connection's push-to-ack times as Mean, Median, Fastest, quintiles,
 * percentiles and Highest over its last 1000 messages.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { Consumer } from "../../src/server/persistent/Consumer.ts"
import { ConsumerGroup } from "../../src/server/persistent/ConsumerGroup.ts"
import type { Group } from "../../src/server/persistent/Group.ts"
import { ProcessingTimings, ratePerSecond, TIMINGS_WINDOW } from "../../src/server/persistent/GroupStatistics.ts"
import type { Message } from "../../src/server/persistent/Message.ts"
import { Store } from "../../src/server/storage/Store.ts"

const append = (store: Store, stream: string, n: number) =>
  store.append(stream, { _tag: "Any" }, Array.from({ length: n }, () => ({
    eventId: randomUUID(),
    eventType: "e",
    isJson: false,
    data: Buffer.alloc(0),
    customMetadata: Buffer.alloc(0)
  })))

const groupOn = (stream: string, extraStatistics: boolean): Group => ({
  stream,
  group: "g",
  startFrom: { _tag: "Stream", eventNumber: 0n },
  filter: undefined,
  settings: {
    resolveLinkTos: false,
    extraStatistics,
    messageTimeoutMs: 0,
    maxRetryCount: 10,
    liveBufferSize: 500,
    historyBufferSize: 500,
    readBatchSize: 20,
    checkPointAfterMs: 0,
    minCheckPointCount: 10,
    maxCheckPointCount: 1000,
    maxSubscriberCount: 0,
    consumerStrategy: "DispatchToSingle"
  }
})

const consumer = (capacity: number, sent: Array<Message>) =>
  new Consumer(capacity, "test", "admin", "", { send: (m) => (sent.push(m), true), drop: () => {} })

describe("a group's delivery rate", () => {
  it("counts the messages pushed since the previous measurement over the time since then, for the group and each connection", () => {
    const store = new Store()
    append(store, "rates", 10)
    const group = new ConsumerGroup(store, groupOn("rates", false))
    try {
      const base = performance.now() + 10_000
      // starts the window at `base`: nothing was pushed yet
      assert.deepStrictEqual(group.measure(base), { averagePerSecond: 0, countSinceLastMeasurement: 0, connections: [] })
      const sentA: Array<Message> = []
      const a = consumer(6, sentA)
      group.add(a)
      assert.strictEqual(sentA.length, 6)
      // 6 pushed in 400 ms: 15/s
      const first = group.measure(base + 400)
      assert.strictEqual(first.averagePerSecond, 15)
      assert.strictEqual(first.countSinceLastMeasurement, 6)
      assert.deepStrictEqual(first.connections.map((c) => [c.averageItemsPerSecond, c.countSinceLastMeasurement]), [[15, 6]])
      // a second consumer joins; two acks let the first take two more; retries count as pushes
      const sentB: Array<Message> = []
      const b = consumer(10, sentB)
      group.add(b)
      group.ack(sentA.slice(0, 2).map((m) => m.record.eventId))
      group.nack([sentA[2]!.record.eventId], "retry", "again")
      const pushedA = sentA.length - 6
      const pushedB = sentB.length
      assert.strictEqual(pushedA + pushedB, 5) // 4 new events and the retry
      // over 3 s: integer items per second, truncated
      const second = group.measure(base + 3400)
      assert.strictEqual(second.countSinceLastMeasurement, 5)
      assert.strictEqual(second.averagePerSecond, 1)
      assert.deepStrictEqual(
        second.connections.map((c) => [c.consumer === a, c.countSinceLastMeasurement, c.averageItemsPerSecond]),
        [[true, pushedA, ratePerSecond(pushedA, 3000)], [false, pushedB, ratePerSecond(pushedB, 3000)]]
      )
      // idle: the next measurement is 0, and so is one over an empty window
      assert.strictEqual(group.measure(base + 4400).averagePerSecond, 0)
      assert.strictEqual(group.measure(base + 4400).averagePerSecond, 0)
      assert.strictEqual(group.totalItems, 11)
    } finally {
      group.close()
    }
  })

  it("is an integer count per second, 0 over an empty window", () => {
    assert.strictEqual(ratePerSecond(7, 1000), 7)
    assert.strictEqual(ratePerSecond(1, 3), 333)
    assert.strictEqual(ratePerSecond(2, 3000), 0)
    assert.strictEqual(ratePerSecond(5, 0), 0)
  })
})

describe("extra statistics", () => {
  it("measure each connection's push-to-ack times: Mean, Median, Fastest, quintiles, percentiles, Highest", () => {
    const timings = new ProcessingTimings()
    assert.deepStrictEqual(timings.measurements(), [])
    // 1..10 ms, given out of order; an id never started is ignored
    for (const ms of [5, 1, 10, 3, 7, 2, 9, 4, 8, 6]) {
      timings.start(`id-${ms}`, 1000)
      timings.end(`id-${ms}`, 1000 + ms + 0.9)
    }
    timings.end("unknown", 5000)
    assert.deepStrictEqual(
      timings.measurements().map((m) => [m.key, Number(m.value)]),
      [
        ["Mean", 5],
        ["Median", 6],
        ["Fastest", 1],
        ["Quintile 1", 1],
        ["Quintile 2", 3],
        ["Quintile 3", 5],
        ["Quintile 4", 7],
        ["Quintile 5", 9],
        ["90%", 10],
        ["95%", 10],
        ["99%", 10],
        ["99.5%", 10],
        ["99.9%", 10],
        ["Highest", 10]
      ]
    )
  })

  it("keep the last 1000 times", () => {
    const timings = new ProcessingTimings()
    // one slow message, then 1000 fast ones: the slow one is no longer measured
    timings.start("slow", 0)
    timings.end("slow", 500)
    for (let i = 0; i < TIMINGS_WINDOW; i++) {
      timings.start(`m${i}`, 0)
      timings.end(`m${i}`, 2)
    }
    const highest = timings.measurements().find((m) => m.key === "Highest")
    assert.strictEqual(highest?.value, 2n)
  })

  it("are reported by a group with extraStatistics, none by one without", () => {
    const store = new Store()
    append(store, "extra", 4)
    for (const extra of [true, false]) {
      const group = new ConsumerGroup(store, { ...groupOn("extra", extra), group: String(extra) })
      try {
        const sent: Array<Message> = []
        group.add(consumer(4, sent))
        group.ack(sent.map((m) => m.record.eventId))
        const measured = group.measure().connections[0]!.observedMeasurements
        assert.strictEqual(measured.length, extra ? 14 : 0)
      } finally {
        group.close()
      }
    }
  })
})
