/**
 * The tests' one wait: it returns the value that satisfied the check, and fails with what it was
 * waiting for and the last value once its bound passes (so a wait can never pass by timing out).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { eventually, eventuallyAsync } from "./eventually.ts"

describe("eventually", () => {
  it.live("returns the first value the check accepts", () =>
    Effect.gen(function*() {
      let n = 0
      const value = yield* eventually("n reaches 3", () => ++n, { until: (v) => v >= 3, intervalMs: 1 })
      assert.strictEqual(value, 3)
    }))

  it.live("dies with what it waited for and the last value once the bound passes", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(eventually("never", () => ({ state: "stuck" }), { until: () => false, timeoutMs: 50 }))
      assert.isTrue(Exit.isFailure(exit) && Exit.hasDies(exit))
      const message = String(Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Die" ? String(r.defect) : "")).join("") : "")
      assert.match(message, /timed out after 50 ms waiting for: never \(last value: \{"state":"stuck"\}\)/)
    }))

  it.live("a failing probe ends the wait with its failure", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(eventually("a probe that fails", Effect.fail("boom" as const)))
      assert.strictEqual(error, "boom")
    }))
})

describe("eventuallyAsync", () => {
  it("returns the first truthy value, awaiting the probe", async () => {
    let n = 0
    assert.strictEqual(await eventuallyAsync("n reaches 2", async () => (++n >= 2 ? n : undefined), { intervalMs: 1 }), 2)
  })

  it("rejects with what it waited for once the bound passes", async () => {
    const error = await eventuallyAsync("never", () => false, { timeoutMs: 50 }).then(() => undefined, (e: unknown) => e)
    assert.instanceOf(error, Error)
    assert.match((error as Error).message, /timed out after 50 ms waiting for: never \(last value: false\)/)
  })
})
