/**
 * Fault scenario 2, short (bench/faults/election.ts): a new leader is elected during a `$all`
 * catch-up subscription and during a stream read, the leader stepping down or killed; what each
 * delivered equals the new leader's log, no gap, no duplicate, and the resumes are logged.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { election } from "../../bench/faults/election.ts"

describe("fault: an election during a subscription and a read", { timeout: 90_000 }, () => {
  it.live("the leader steps down: delivered = the log, no gap, no duplicate", () =>
    Effect.gen(function*() {
      const figures = yield* election({ events: 6000 })
      assert.deepStrictEqual(figures.violations, [])
    }))

  it.live("the leader killed: delivered = the log, no gap, no duplicate, each resume logged", () =>
    Effect.gen(function*() {
      const figures = yield* election({ events: 6000, fault: "kill" })
      assert.deepStrictEqual(figures.violations, [])
      assert.isAtLeast(figures.subscriptionResumes, 1, "the subscription's resume is logged")
      assert.isAtLeast(figures.readResumes, 1, "the read's resume is logged")
    }))
})
