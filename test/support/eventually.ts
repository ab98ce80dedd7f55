/**
 * The one way a test waits: `eventually` polls a condition until it holds, and fails the test with
 * what it was waiting for (and the last value seen) when a generous bound passes. Tests wait for
 * the condition they need, never for a fixed time; the bound only stops a test that would
 * otherwise hang, so it is long enough for a loaded 2-core machine (20 s by default, under the
 * 30 s test timeout).
 *
 * Two faces of the same loop:
 * - {@link eventually} for Effect tests, with an Effect (or a plain function) as the probe:
 *   `yield* eventually("live", () => live === 200)`,
 *   `yield* eventually("connected", ps.getInfoToStream(s, g), { until: (i) => i.connections.length === 1 })`;
 * - {@link eventuallyAsync} for Promise-based tests: `await eventuallyAsync("closed", () => server.closed)`.
 *
 * Both return the value that satisfied the check, so a test can go on asserting on it. A probe
 * that fails (rejects, or fails in the error channel) ends the wait with that failure.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/** When a wait is over, its bound and its polling interval. */
export interface EventuallyOptions<A> {
  /** The check on the probe's value (default: the value is truthy, e.g. a boolean condition). */
  readonly until?: ((a: A) => boolean) | undefined
  /** How long to wait before failing the test (default {@link DEFAULT_TIMEOUT_MS}). */
  readonly timeoutMs?: number | undefined
  /** Pause between two probes (default {@link DEFAULT_INTERVAL_MS}). */
  readonly intervalMs?: number | undefined
}

/** The default bound: long enough for a loaded machine, shorter than vitest's 30 s test timeout. */
export const DEFAULT_TIMEOUT_MS = 20_000
/** The default pause between two probes. */
export const DEFAULT_INTERVAL_MS = 10

const show = (value: unknown): string => {
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))
    return text === undefined ? String(value) : text.length > 500 ? `${text.slice(0, 500)}…` : text
  } catch {
    return String(value)
  }
}

const timedOut = (what: string, timeoutMs: number, last: unknown): Error =>
  new Error(`timed out after ${timeoutMs} ms waiting for: ${what} (last value: ${show(last)})`)

const truthy = (a: unknown): boolean => Boolean(a)

/**
 * {@link eventually} for Promise-based tests: probes `poll` until `options.until` holds for its
 * value (by default: until the value is truthy) and returns that value; rejects with `what` and the
 * last value once `timeoutMs` has passed. A probe that rejects ends the wait with that rejection.
 */
export const eventuallyAsync = async <A>(
  what: string,
  poll: () => A | Promise<A>,
  options: EventuallyOptions<A> = {}
): Promise<A> => {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS
  const ok = options.until ?? truthy
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await poll()
    if (ok(value)) return value
    if (Date.now() > deadline) throw timedOut(what, timeoutMs, value)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/**
 * Runs `poll` (an Effect, run afresh each time, or a plain function) until `options.until` holds
 * for its value (by default: until the value is truthy), and returns that value; dies with `what`
 * and the last value once `timeoutMs` has passed. Time is Effect's Clock, so the wait needs live
 * time (`it.live`, or `it.effect` in a test that does not adjust TestClock meanwhile). A failure of
 * `poll` ends the wait with that failure.
 */
export const eventually = <A, E = never, R = never>(
  what: string,
  poll: Effect.Effect<A, E, R> | (() => A),
  options: EventuallyOptions<A> = {}
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS
    const ok = options.until ?? truthy
    const probe: Effect.Effect<A, E, R> = Effect.isEffect(poll) ? poll : Effect.sync(poll)
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
    for (;;) {
      const value = yield* probe
      if (ok(value)) return value
      if ((yield* Clock.currentTimeMillis) > deadline) return yield* Effect.die(timedOut(what, timeoutMs, value))
      yield* Effect.sleep(intervalMs)
    }
  })
