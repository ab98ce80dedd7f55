/**
 * The resume policy on TestClock: the default `resumeSchedule` goes on forever, from 100 ms
 * doubling to 5 s (each delay jittered by ×0.8..×1.2); every resume is logged with the operation,
 * the failure, the attempt and the next delay, and counted; a failure Retry.ts does not accept,
 * or the deadline, ends it. A Stream that delivered something again starts the Schedule afresh.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { AccessDenied } from "../src/errors/AccessDenied.ts"
import { DiscoveryFailed } from "../src/errors/DiscoveryFailed.ts"
import { ServiceUnavailable } from "../src/errors/ServiceUnavailable.ts"
import type { CallError } from "../src/internal/transport/CallError.ts"
import { defaultResumeSchedule } from "../src/internal/transport/Options.ts"
import { observed, recoveries } from "../src/internal/transport/Recovery.ts"
import { canResume } from "../src/internal/transport/Retry.ts"
import { resumeStream } from "../src/internal/transport/ServerStream.ts"
import { recoveryLog } from "./support/recoveryLog.ts"

const unavailable = new ServiceUnavailable({ reason: "No connection established" })

/** An effect that fails with `error(n)` on attempt n (from 0) while it returns one, then succeeds. */
const attempts = (error: (n: number) => CallError | undefined) => {
  let n = 0
  const effect = Effect.suspend(() => {
    const e = error(n++)
    return e === undefined ? Effect.succeed(n) : Effect.fail(e)
  })
  return { effect, count: () => n }
}

const cap = (attempt: number) => Math.min(100 * 2 ** (attempt - 1), 5000)

describe("resume policy", () => {
  it.effect("the default resumeSchedule goes on forever: 100 ms doubling to 5 s, jittered, each resume logged", () =>
    Effect.gen(function*() {
      const log = recoveryLog()
      const failing = attempts(() => unavailable)
      const fiber = yield* Effect.forkChild(log.capture(Effect.retry(failing.effect, {
        schedule: observed(defaultResumeSchedule, { operation: "Test.subscribe", action: "resume", allow: canResume })
      })))
      // 40 outage attempts: far past the 5 retries of the retrySchedule, 6 doublings to the cap
      for (let i = 0; i < 40; i++) {
        yield* TestClock.adjust("6 seconds")
      }
      assert.isUndefined(fiber.pollUnsafe(), "still resuming")
      const warnings = log.of("Test.subscribe", "resume")
      assert.isAtLeast(warnings.length, 40)
      warnings.forEach((w, i) => {
        const attempt = i + 1
        assert.strictEqual(w.annotations["attempt"], attempt)
        assert.strictEqual(w.annotations["cause"], "ServiceUnavailable")
        const delay = w.annotations["delayMillis"] as number
        assert.isAtLeast(delay, Math.floor(cap(attempt) * 0.8), `attempt ${attempt}`)
        assert.isAtMost(delay, Math.ceil(cap(attempt) * 1.2), `attempt ${attempt}`)
        assert.include(w.text, `resuming Test.subscribe after ServiceUnavailable: No connection established (attempt ${attempt}, next in ${delay} ms)`)
      })
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("the delays are the ones slept: the next attempt starts no sooner than the logged delay", () =>
    Effect.gen(function*() {
      const log = recoveryLog()
      const failing = attempts((n) => n < 3 ? unavailable : undefined)
      const fiber = yield* Effect.forkChild(log.capture(Effect.retry(failing.effect, {
        schedule: observed(defaultResumeSchedule, { operation: "Test.read", action: "resume", allow: canResume })
      })))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(failing.count(), 1)
      const first = log.warnings[0]!.annotations["delayMillis"] as number
      yield* TestClock.adjust(`${first - 2} millis`)
      assert.strictEqual(failing.count(), 1, "not before the delay")
      yield* TestClock.adjust("3 millis")
      assert.strictEqual(failing.count(), 2)
      yield* TestClock.adjust("1 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), 4)
      assert.strictEqual(log.warnings.length, 3)
    }))

  it.effect("failures that cannot be resumed end it at once; the deadline ends it; every resume is counted", () =>
    Effect.gen(function*() {
      const before = yield* Metric.value(Metric.withAttributes(recoveries, {
        operation: "Test.count",
        action: "resume",
        cause: "DiscoveryFailed"
      }))
      const denied = attempts(() => new AccessDenied({ reason: "no" }))
      const error = yield* Effect.flip(Effect.retry(denied.effect, {
        schedule: observed(defaultResumeSchedule, { operation: "Test.denied", action: "resume", allow: canResume })
      }))
      assert.strictEqual(error._tag, "AccessDenied")
      assert.strictEqual(denied.count(), 1)

      // a deadline 1 s away: 100 + 200 + 400 ms (×1.2 at most) fit, the next would pass it
      const undiscovered = attempts(() => new DiscoveryFailed({ reason: "no seed answered", attempts: 1 }))
      const fiber = yield* Effect.forkChild(Effect.retry(undiscovered.effect, {
        schedule: observed(defaultResumeSchedule, {
          operation: "Test.count",
          action: "resume",
          allow: canResume,
          until: 1000
        })
      }))
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("100 millis")
      const last = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(last._tag, "DiscoveryFailed")
      assert.oneOf(undiscovered.count(), [3, 4])
      const after = yield* Metric.value(Metric.withAttributes(recoveries, {
        operation: "Test.count",
        action: "resume",
        cause: "DiscoveryFailed"
      }))
      assert.strictEqual(after.count - before.count, undiscovered.count() - 1)
    }))

  it.effect("a subscription that the node ends (status OK) is resumed, and the Schedule starts afresh once it delivered", () =>
    Effect.gen(function*() {
      const log = recoveryLog()
      let runs = 0
      // runs 0 and 1 deliver one item and end; run 2 fails twice in a row (runs 2, 3), then delivers and ends
      const make = () =>
        Stream.suspend(() => {
          const run = runs++
          if (run === 2 || run === 3) return Stream.fail(unavailable)
          return Stream.make(run)
        })
      const received: Array<number> = []
      const fiber = yield* Effect.forkChild(log.capture(resumeStream(make, {
        operation: "Test.subscribeToAll",
        endless: true,
        schedule: Schedule.spaced("1 seconds"),
        diagnose: Effect.succeed
      }).pipe(Stream.tap((n) => Effect.sync(() => received.push(n))), Stream.take(3), Stream.runDrain)))
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(received, [0, 1, 4])
      const warnings = log.of("Test.subscribeToAll", "resume")
      assert.deepStrictEqual(warnings.map((w) => w.annotations["attempt"]), [1, 1, 2, 3])
      assert.match(warnings[0]!.text, /after ServiceUnavailable: The node ended the call of Test.subscribeToAll/)
    }))
})
