/**
 * Fault scenario 6, short (bench/faults/interrupted.ts): 300 subscriptions over the members,
 * moved by an election, then interrupted: afterwards no member holds an open call or a store
 * listener for them (the members' own counters).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { interrupted } from "../../bench/faults/interrupted.ts"

describe("fault: subscriptions interrupted", { timeout: 120_000 }, () => {
  it.live("no member holds an open call for them afterwards", () =>
    Effect.gen(function*() {
      const figures = yield* interrupted({ subscriptions: 300 })
      assert.deepStrictEqual(figures.violations, [])
      assert.isAtLeast(figures.openReadsPeak, 300)
      assert.strictEqual(figures.openReadsAfterInterrupt, figures.openReadsBefore)
    }))
})
