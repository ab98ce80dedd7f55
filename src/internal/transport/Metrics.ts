/**
 * Effect metrics of every operation and subscription (besides `esdb_recoveries`, Recovery.ts):
 *
 * - `esdb_calls` (counter; `operation`): operations run;
 * - `esdb_call_errors` (counter; `operation`, `error`: the failure's tag): operations failed;
 * - `esdb_call_duration_ms` (histogram; `operation`): how long each took, retries included;
 * - `esdb_calls_in_flight` (up-down counter; `operation`): operations running now;
 * - `esdb_subscription_events` (counter; `operation`, `destination`, and `group` for persistent
 *   subscriptions): events delivered;
 * - `esdb_subscription_lag_ms` (gauge; same attributes): how long ago the last delivered event
 *   was recorded (the node's clock against the Clock: known when the node says when; read at most
 *   once per millisecond).
 *
 * Updates are synchronous (`updateUnsafe` in the fiber's context) and the metric of each
 * attribute set is made once, with its attributes built in: an operation pays a few map lookups
 * and additions (about 0.8 µs, BENCHMARKS.md section 13). The delivery metrics, updated with every
 * chunk a subscription delivers, are series registered once and read on snapshot
 * ({@link deliverySeries}): a chunk adds to a number.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"

const CALLS = { description: "Operations run", incremental: true } as const
const CALL_ERRORS = { description: "Operations failed, by error tag", incremental: true } as const
const CALL_DURATION = {
  description: "Operation latency in milliseconds, retries included",
  boundaries: Metric.exponentialBoundaries({ start: 0.5, factor: 2, count: 18 })
} as const
const IN_FLIGHT = { description: "Operations running now" } as const
const SUBSCRIPTION_EVENTS = { description: "Events delivered by subscriptions", incremental: true } as const
const SUBSCRIPTION_LAG = {
  description: "Milliseconds between an event's recording and its delivery (the last one delivered)"
} as const

/**
 * Operations run (attribute `operation`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const calls = Metric.counter("esdb_calls", CALLS)

/**
 * Operations failed (attributes `operation`, `error`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const callErrors = Metric.counter("esdb_call_errors", CALL_ERRORS)

/**
 * How long operations took in milliseconds, retries included (attribute `operation`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const callDuration = Metric.histogram("esdb_call_duration_ms", CALL_DURATION)

/**
 * Operations running now (attribute `operation`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const callsInFlight = Metric.counter("esdb_calls_in_flight", IN_FLIGHT)

/**
 * Events delivered by subscriptions and persistent consumers (attributes `operation`,
 * `destination`, `group`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const subscriptionEvents = Metric.counter("esdb_subscription_events", SUBSCRIPTION_EVENTS)

/**
 * How long ago the last event a subscription delivered was recorded, in milliseconds.
 *
 * @since 0.1.0
 * @category metrics
 */
export const subscriptionLag = Metric.gauge("esdb_subscription_lag_ms", SUBSCRIPTION_LAG)

interface OperationMetrics {
  readonly calls: Metric.Metric<number, unknown>
  readonly duration: Metric.Metric<number, unknown>
  readonly inFlight: Metric.Metric<number, unknown>
  readonly errors: Map<string, Metric.Metric<number, unknown>>
}

const byOperation = new Map<string, OperationMetrics>()

// Each operation's metrics are made once, with their attributes built in (the same series as
// `Metric.withAttributes(calls, { operation })`, which readers use): `withAttributes` would add
// the attributes to a copy of the fiber's context on every update, four times per operation, and
// the metrics of several operations sharing one base metric would recompute its series key (a
// sorted JSON) each time the operation changes. So an update is a lookup of the registry and the
// series, cached per metric.
const metricsOf = (operation: string): OperationMetrics => {
  let m = byOperation.get(operation)
  if (m === undefined) {
    const attributes = { operation }
    m = {
      calls: Metric.counter("esdb_calls", { ...CALLS, attributes }),
      duration: Metric.histogram("esdb_call_duration_ms", { ...CALL_DURATION, attributes }),
      inFlight: Metric.counter("esdb_calls_in_flight", { ...IN_FLIGHT, attributes }),
      errors: new Map()
    }
    byOperation.set(operation, m)
  }
  return m
}

const errorTag = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") {
    const e = error.value
    return typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" ? e._tag : "Unknown"
  }
  return "Defect"
}

const recordError = (m: OperationMetrics, operation: string, tag: string, context: Context.Context<never>) => {
  let counter = m.errors.get(tag)
  if (counter === undefined) {
    counter = Metric.counter("esdb_call_errors", { ...CALL_ERRORS, attributes: { operation, error: tag } })
    m.errors.set(tag, counter)
  }
  counter.updateUnsafe(1, context)
}

/**
 * Counts an operation: calls, in flight, its duration, and its failure by tag (a defect as
 * `Defect`; an interruption, e.g. a consumer that stopped reading, is no failure).
 *
 * @since 0.1.0
 * @category combinators
 */
export const measured = (operation: string) => {
  const m = metricsOf(operation)
  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiber((fiber) => {
      const context = fiber.context
      const clock = fiber.getRef(Clock.Clock)
      // a duration: the monotonic clock (one hrtime read; the wall-clock nanos take two and a re-anchoring)
      const start = clock.monotonicTimeNanosUnsafe()
      m.calls.updateUnsafe(1, context)
      m.inFlight.updateUnsafe(1, context)
      return Effect.onExit(effect, (exit) => {
        m.inFlight.updateUnsafe(-1, context)
        m.duration.updateUnsafe(Number(clock.monotonicTimeNanosUnsafe() - start) / 1e6, context)
        if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) recordError(m, operation, errorTag(exit.cause), context)
        return Effect.void
      })
    })
}

/**
 * Counts a read or subscription like {@link measured}: from its start to its end (for a
 * subscription, its whole life).
 *
 * @since 0.1.0
 * @category combinators
 */
export const measuredStream = (operation: string) => <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
  Stream.unwrap(Effect.withFiber((fiber) => {
    const context = fiber.context
    const clock = fiber.getRef(Clock.Clock)
    const m = metricsOf(operation)
    const start = clock.monotonicTimeNanosUnsafe()
    m.calls.updateUnsafe(1, context)
    m.inFlight.updateUnsafe(1, context)
    return Effect.succeed(Stream.onExit(stream, (exit) => {
      m.inFlight.updateUnsafe(-1, context)
      m.duration.updateUnsafe(Number(clock.monotonicTimeNanosUnsafe() - start) / 1e6, context)
      if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) recordError(m, operation, errorTag(exit.cause), context)
      return Effect.void
    }))
  }))

/**
 * The delivery series of one attribute set in one registry: plain numbers, which the registry
 * reads on snapshot. Subscriptions with the same attributes share them (their counts add up, and
 * the lag is the last delivered event's, as with updated metrics).
 *
 * @internal
 */
export interface DeliverySeries {
  /** Adds `count` delivered events, the last of them recorded `lagMillis` ago (undefined: not said). */
  readonly delivered: (count: number, lagMillis: number | undefined) => void
}

const deliveryRegistries = new WeakMap<object, Map<string, DeliverySeries>>()

/**
 * The delivery metrics of a subscription (`esdb_subscription_events`, `esdb_subscription_lag_ms`)
 * with these attributes, in the registry of `context`. They are updated with every chunk a
 * subscription delivers, often one event (a persistent consumer gets one per `process.nextTick`):
 * so they are registered once (`Metric.registerUnsafe`) as series whose values are read when a
 * snapshot is taken, and a chunk only adds to a number (about 0.3 µs less per chunk than two
 * metric updates, each of which looks up the registry and the series). The lag is registered with
 * the first lag known.
 *
 * @since 0.1.0
 * @category constructors
 */
export const deliverySeries = (attributes: Readonly<Record<string, string>>, context: Context.Context<never>): DeliverySeries => {
  const registry = Context.get(context, Metric.MetricRegistry)
  let byKey = deliveryRegistries.get(registry)
  if (byKey === undefined) {
    byKey = new Map()
    deliveryRegistries.set(registry, byKey)
  }
  const key = JSON.stringify([Object.entries(attributes).sort(), Context.get(context, Metric.CurrentMetricAttributes)])
  let series = byKey.get(key)
  if (series === undefined) {
    let count = 0
    let lag = 0
    let lagRegistered = false
    const add = (n: number) => {
      if (n >= 0) count += n
    }
    const set = (value: number) => {
      lag = value
    }
    Metric.registerUnsafe(Metric.counter("esdb_subscription_events", { ...SUBSCRIPTION_EVENTS, attributes }), context, {
      get: () => ({ count, incremental: true }),
      update: add,
      modify: add
    })
    series = {
      delivered: (n, lagMillis) => {
        count += n
        if (lagMillis === undefined) return
        lag = lagMillis
        if (lagRegistered) return
        lagRegistered = true
        Metric.registerUnsafe(Metric.gauge("esdb_subscription_lag_ms", { ...SUBSCRIPTION_LAG, attributes }), context, {
          get: () => ({ value: lag }),
          update: set,
          modify: (n: number) => set(lag + n)
        })
      }
    }
    byKey.set(key, series)
  }
  return series
}
