/**
 * Fault scenario 5, short (bench/faults/cutOff.ts): a follower, then the leader during appends,
 * is cut off and comes back; each catches up, and reads from it equal the leader's; every
 * acknowledged append is on every member exactly once.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { cutOff } from "../../bench/faults/cutOff.ts"

describe("fault: a member cut off comes back", { timeout: 120_000 }, () => {
  it.live("it catches up, and reads from it equal the leader's", () =>
    Effect.gen(function*() {
      const figures = yield* cutOff({ events: 400 })
      assert.deepStrictEqual(figures.violations, [])
      assert.isAtLeast(figures.acknowledged, 200)
      assert.isAtLeast(figures.reconnects, 1, "the move to the new leader is logged")
    }))
})
