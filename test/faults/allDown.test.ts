/**
 * Fault scenario 4, short (bench/faults/allDown.ts): every member down; a call fails with
 * DiscoveryFailed after MaxDiscoverAttempts rounds within the bound the settings give (seeds that
 * refuse connections, then seeds that accept them and never answer, where every gossip read waits
 * GossipTimeout); the members
 * come back and a subscription started before goes on, no gap, no duplicate, its resumes logged.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { allDown } from "../../bench/faults/allDown.ts"

describe("fault: every member down", { timeout: 120_000 }, () => {
  it.live("DiscoveryFailed within the bound; the subscription goes on once they are back", () =>
    Effect.gen(function*() {
      const figures = yield* allDown({ maxDiscoverAttempts: 2, discoveryInterval: 50, gossipTimeout: 1, downMs: 500 })
      assert.deepStrictEqual(figures.violations, [])
      assert.strictEqual(figures.attempts, 2)
      assert.isAtLeast(figures.subscriptionResumes, 1)
    }))
})
