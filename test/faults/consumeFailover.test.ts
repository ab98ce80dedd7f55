/**
 * Fault scenario 3, short (bench/faults/consumeFailover.ts): a `consume` consumer runs through a
 * failover (the leader killed); every event is handled at least once, the failing ones parked
 * once each after their retries, nothing left unacknowledged on the new leader, and the
 * consumer's reconnect is logged.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { consumeFailover } from "../../bench/faults/consumeFailover.ts"

describe("fault: a consume consumer through a failover", { timeout: 120_000 }, () => {
  it.live("handled at least once, parked as the policy says, nothing left unacknowledged", () =>
    Effect.gen(function*() {
      const figures = yield* consumeFailover({ events: 300, poisonEvery: 25 })
      assert.deepStrictEqual(figures.violations, [])
      assert.strictEqual(figures.parked, 12)
      assert.isAtLeast(figures.reconnects, 1, "the consumer's reconnect is logged")
    }))

  it.live("the same when the leader steps down for an election (and stays a follower)", () =>
    Effect.gen(function*() {
      const figures = yield* consumeFailover({ events: 300, poisonEvery: 25, fault: "elect" })
      assert.deepStrictEqual(figures.violations, [])
      assert.strictEqual(figures.parked, 12)
      assert.isAtLeast(figures.reconnects, 1, "the consumer's reconnect is logged")
    }))
})
