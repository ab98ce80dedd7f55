/**
 * Time in a persistent-subscription group is checked on the node's one-second tick, as on a real
 * node: `PersistentSubscriptionService` (src/KurrentDB.Core/Services/PersistentSubscription/
 * PersistentSubscriptionService.cs) schedules a `PersistentSubscriptionTimerTick` 1000 ms after
 * each one and calls `PersistentSubscription.NotifyClockTick` of every group
 * (PersistentSubscription.cs), which retries the messages `OutstandingMessageCache.
 * GetMessagesExpiringBefore(now)` gives and checks `checkpoint_after` (`TryMarkCheckpoint(true)`).
 * PROTOCOL.md §4: "Message timeouts ... are checked on the node's one-second timer tick, not
 * continuously".
 *
 * So a consumer that acks within a few hundred milliseconds of a 100 ms timeout keeps its messages
 * unless a tick falls in between; a message whose deadline passed waits for the next tick; a
 * timeout of 0 (`ToMessageTimeout(0)` is `TimeSpan.Zero`, `MarkBeginProcessing` adds it to now)
 * expires at the next tick. The registry is driven here with a chosen clock and its tick called
 * by hand; the node's own tick is tested over gRPC in persistentSubscriptions.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { Consumer } from "../../src/server/persistent/Consumer.ts"
import type { GroupSettings } from "../../src/server/persistent/Group.ts"
import type { Message } from "../../src/server/persistent/Message.ts"
import { PersistentGroups, TICK_MS } from "../../src/server/persistent/PersistentGroups.ts"
import { Store } from "../../src/server/storage/Store.ts"

const settings = (overrides: Partial<GroupSettings>): GroupSettings => ({
  resolveLinkTos: false,
  extraStatistics: false,
  messageTimeoutMs: 100,
  maxRetryCount: 10,
  liveBufferSize: 500,
  historyBufferSize: 500,
  readBatchSize: 20,
  checkPointAfterMs: 0,
  minCheckPointCount: 1,
  maxCheckPointCount: 1000,
  maxSubscriberCount: 0,
  consumerStrategy: "RoundRobin",
  ...overrides
})

const append = (store: Store, stream: string, n: number) =>
  store.append(stream, { _tag: "Any" }, Array.from({ length: n }, () => ({
    eventId: randomUUID(),
    eventType: "e",
    isJson: false,
    data: Buffer.alloc(0),
    customMetadata: Buffer.alloc(0)
  })))

/** A registry on a fresh store with `n` events in stream "s", its clock at `clock.now`, no timers of its own. */
const setup = (n: number, overrides: Partial<GroupSettings> = {}) => {
  const store = new Store()
  append(store, "s", n)
  const clock = { now: 1_000_000 }
  const groups = new PersistentGroups(store, { now: () => clock.now, timers: false })
  groups.put({ stream: "s", group: "g", startFrom: { _tag: "Stream", eventNumber: 0n }, filter: undefined, settings: settings(overrides) }, "admin")
  const running = groups.start("s", "g")!
  const sent: Array<Message> = []
  // what each delivery carried (a message is the same object when it comes again)
  const carried: Array<[number, number]> = []
  running.add(new Consumer(100, "test", "admin", "", {
    send: (m) => (sent.push(m), carried.push([m.record.eventNumber, m.retryCount]), true),
    drop: () => {}
  }))
  const deliveries = () => carried.slice()
  const checkpoints = () => store.events("$persistentsubscription-s::g-checkpoint").length
  return { store, clock, groups, running, sent, deliveries, checkpoints }
}

describe("persistent-subscription time on the node's tick", () => {
  it("acks 200 ms after delivery with a 100 ms timeout: nothing is retried when no tick fell in between", () => {
    const { clock, groups, running, sent, deliveries, store } = setup(3)
    try {
      assert.deepStrictEqual(deliveries(), [[0, 0], [1, 0], [2, 0]])
      // 150 ms later the deadline has passed, and the group is busy (a new event is delivered):
      // no tick, no retry
      clock.now += 150
      append(store, "s", 1)
      assert.deepStrictEqual(deliveries(), [[0, 0], [1, 0], [2, 0], [3, 0]])
      // the batched acks come 200 ms after delivery
      clock.now += 50
      running.ack(sent.map((m) => m.record.eventId))
      // the next tick finds nothing in flight
      clock.now += TICK_MS
      groups.tick()
      assert.deepStrictEqual(deliveries(), [[0, 0], [1, 0], [2, 0], [3, 0]])
      assert.deepStrictEqual(groups.holding, { groups: 1, running: 1, consumers: 1, inFlight: 0, retries: 0 })
    } finally {
      groups.close()
    }
  })

  it("a message whose deadline passed is retried at the next tick, not before; past max_retry_count it is parked there", () => {
    const { clock, groups, deliveries, store } = setup(1, { maxRetryCount: 1 })
    try {
      clock.now += 99
      groups.tick()
      assert.deepStrictEqual(deliveries(), [[0, 0]])
      // deadline passed at +100: still nothing until a tick
      clock.now += 400
      assert.deepStrictEqual(deliveries(), [[0, 0]])
      groups.tick()
      assert.deepStrictEqual(deliveries(), [[0, 0], [0, 1]])
      // the retry has a deadline of its own: 100 ms after it was sent
      clock.now += TICK_MS
      groups.tick()
      assert.deepStrictEqual(deliveries(), [[0, 0], [0, 1]])
      assert.strictEqual(store.events("$persistentsubscription-s::g-parked").length, 1)
      assert.deepStrictEqual(groups.holding, { groups: 1, running: 1, consumers: 1, inFlight: 0, retries: 0 })
    } finally {
      groups.close()
    }
  })

  it("a message timeout of 0 is taken literally: the message expires at the next tick", () => {
    const { groups, deliveries } = setup(1, { messageTimeoutMs: 0 })
    try {
      groups.tick()
      assert.deepStrictEqual(deliveries(), [[0, 0], [0, 1]])
    } finally {
      groups.close()
    }
  })

  it("checkpoint_after: a checkpoint on a tick that long after the last one, when min_checkpoint_count were processed", () => {
    const { clock, groups, running, sent, checkpoints } = setup(4, { messageTimeoutMs: 30_000, checkPointAfterMs: 2000, minCheckPointCount: 2 })
    try {
      running.ack([sent[0]!.record.eventId])
      // the first tick may write one (no checkpoint yet), but only one message was processed
      groups.tick()
      assert.strictEqual(checkpoints(), 0)
      running.ack([sent[1]!.record.eventId])
      clock.now += 10
      groups.tick()
      assert.strictEqual(checkpoints(), 1)
      // two more processed: the next checkpoint waits until 2 s after this one
      running.ack([sent[2]!.record.eventId, sent[3]!.record.eventId])
      clock.now += 1990
      groups.tick()
      assert.strictEqual(checkpoints(), 1)
      clock.now += 10
      groups.tick()
      assert.strictEqual(checkpoints(), 2)
    } finally {
      groups.close()
    }
  })
})
