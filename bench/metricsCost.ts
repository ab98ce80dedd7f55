/**
 * CPU of the per-operation metrics alone (BENCHMARKS.md section 13): 200,000 runs of `Effect.void`
 * in one fiber, bare, wrapped in the current `measured` (src/internal/transport/Metrics.ts), and
 * wrapped in the version issue 18 shipped (kept below: `Metric.withAttributes` metrics, updated
 * in a copy of the fiber's context with the attribute added, timed with the wall-clock nanos),
 * interleaved, 9 rounds, medians in µs per operation.
 *
 *   node bench/metricsCost.ts
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import { loadavg } from "node:os"
import { measured } from "../src/internal/transport/Metrics.ts"

// issue 18's `measured`, as it was
const calls = Metric.counter("before_calls", { description: "Operations run", incremental: true })
const callDuration = Metric.histogram("before_call_duration_ms", {
  description: "Operation latency in milliseconds, retries included",
  boundaries: Metric.exponentialBoundaries({ start: 0.5, factor: 2, count: 18 })
})
const callsInFlight = Metric.counter("before_calls_in_flight", { description: "Operations running now" })
const byOperation = new Map<string, { calls: Metric.Metric<number, unknown>; duration: Metric.Metric<number, unknown>; inFlight: Metric.Metric<number, unknown> }>()
const metricsOf = (operation: string) => {
  let m = byOperation.get(operation)
  if (m === undefined) {
    const attributes = { operation }
    m = {
      calls: Metric.withAttributes(calls, attributes),
      duration: Metric.withAttributes(callDuration, attributes),
      inFlight: Metric.withAttributes(callsInFlight, attributes)
    }
    byOperation.set(operation, m)
  }
  return m
}
const measuredBefore = (operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    const context = fiber.context
    const clock = fiber.getRef(Clock.Clock)
    const m = metricsOf(operation)
    const start = clock.currentTimeNanosUnsafe()
    m.calls.updateUnsafe(1, context)
    m.inFlight.updateUnsafe(1, context)
    return Effect.onExit(effect, (exit) => {
      m.inFlight.updateUnsafe(-1, context)
      m.duration.updateUnsafe(Number(clock.currentTimeNanosUnsafe() - start) / 1e6, context)
      // (failures, counted by tag, do not occur here)
      return Exit.isFailure(exit) ? Effect.void : Effect.void
    })
  })

const N = 200_000
const run = (wrap: (e: Effect.Effect<void>) => Effect.Effect<void>) => {
  const program = Effect.gen(function*() {
    for (let i = 0; i < N; i++) yield* wrap(Effect.void)
  })
  const cpu0 = process.cpuUsage()
  Effect.runSync(program)
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / N
}
const variants: Record<string, (e: Effect.Effect<void>) => Effect.Effect<void>> = {
  bare: (e) => e,
  "issue 18": measuredBefore("Streams.append"),
  now: measured("Streams.append")
}
const results: Record<string, Array<number>> = {}
for (let round = 0; round < 9; round++) {
  for (const [name, wrap] of Object.entries(variants)) (results[name] ??= []).push(run(wrap))
}
for (const [name, xs] of Object.entries(results)) {
  xs.sort((a, b) => a - b)
  process.stdout.write(`${name.padEnd(10)} ${xs[4]!.toFixed(2)} µs per operation (median of 9; ${xs.map((x) => x.toFixed(2)).join(" ")})\n`)
}
process.stdout.write(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`)
