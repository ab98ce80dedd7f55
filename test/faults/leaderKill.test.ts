/**
 * Fault scenario 1, short (bench/faults/leaderKill.ts; `npm run faults` runs the long one): the
 * leader is killed during 1,000 appends from 32 fibers; every acknowledged append is in the new
 * leader's log exactly once, every other one failed with a typed error, and the client logged its
 * retries.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { leaderKill } from "../../bench/faults/leaderKill.ts"

describe("fault: the leader is killed during appends", { timeout: 90_000 }, () => {
  it.live("every acknowledged append is on the new leader exactly once", () =>
    Effect.gen(function*() {
      const figures = yield* leaderKill({ appends: 1000, fibers: 32, killAfter: 100 })
      assert.deepStrictEqual(figures.violations, [])
      assert.isAtLeast(figures.acknowledged, 100)
      assert.isAtLeast(figures.retried + figures.reconnects, 1, "the failover is logged")
    }))

  it.live("with expected revisions: a retried append that had landed is recognised by its ids, never WrongCurrentVersion", () =>
    Effect.gen(function*() {
      const figures = yield* leaderKill({ appends: 1000, fibers: 32, killAfter: 100, currentVersion: "exact" })
      assert.deepStrictEqual(figures.violations, [])
      assert.notProperty(figures.failed, "WrongCurrentVersion")
    }))
})
