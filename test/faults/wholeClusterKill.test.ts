/**
 * Fault scenario 7, short (bench/faults/wholeClusterKill.ts): a `--db` cluster in a child process
 * is killed with SIGKILL during appends from 8 fibers and started again on the same directories:
 * every acknowledged append is there exactly once, on every member, and reads back.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { wholeClusterKill } from "../../bench/faults/wholeClusterKill.ts"

describe("fault: the whole --db cluster killed", { timeout: 120_000 }, () => {
  it.live("every acknowledged append is there, on every member", () =>
    Effect.gen(function*() {
      const figures = yield* wholeClusterKill({ fibers: 8, killAfter: 300 })
      assert.deepStrictEqual(figures.violations, [])
      assert.isAtLeast(figures.acknowledged, 300)
    }))
})
