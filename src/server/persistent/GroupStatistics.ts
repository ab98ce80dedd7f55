/**
 * The live statistics of a group, measured as a real node measures them
 * (`PersistentSubscriptionStats`, `RequestStatistics`):
 *
 * - A measurement counts the messages pushed to consumers (retries included) since the previous
 *   measurement and divides by the time since then: `average_per_second` and
 *   `count_since_last_measurement` of the group, and of each connection (its own count over the
 *   group's window). Every measurement starts the next window. A real node measures on each
 *   GetInfo, on each List (every group listed) and, once a second, for its metrics tracker; so a
 *   rate covers at most about the last second, and falls to 0 at the first measurement after
 *   the group went idle.
 * - With `extra_statistics`, each connection keeps the time (whole milliseconds) from pushing a
 *   message to its ack, nack or timeout, for its last 1000 messages, and reports them as
 *   `observed_measurements`: Mean, Median, Fastest, Quintile 1-5, 90%, 95%, 99%, 99.5%, 99.9%,
 *   Highest.
 *
 * @since 0.1.0
 */

/**
 * How often the node measures every running group, as a real node's tracker does.
 *
 * @since 0.1.0
 * @category constants
 */
export const MEASURE_EVERY_MS = 1000

/**
 * How many processing times a connection keeps (a real node's window).
 *
 * @since 0.1.0
 * @category constants
 */
export const TIMINGS_WINDOW = 1000

/**
 * Items per second over a window, truncated to an integer as a real node's integer arithmetic does;
 * 0 for an empty window.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ratePerSecond = (count: number, windowMs: number): number =>
  windowMs > 0 ? Math.trunc(count * 1000 / windowMs) : 0

/**
 * One measurement: a key and a value in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface TimingMeasurement {
  readonly key: string
  readonly value: bigint
}

/** The percentiles reported after the quintiles, in tenths of a percent (exact integer arithmetic). */
const PERCENTILES: ReadonlyArray<readonly [string, number]> = [
  ["90%", 900],
  ["95%", 950],
  ["99%", 990],
  ["99.5%", 995],
  ["99.9%", 999]
]

/**
 * The processing times of one connection's messages (push to ack, nack or timeout), the last
 * {@link TIMINGS_WINDOW} of them.
 *
 * @since 0.1.0
 * @category models
 */
export class ProcessingTimings {
  private readonly started = new Map<string, number>()
  private readonly times: Array<number> = []
  private next = 0

  /** A message was pushed (a message pushed again restarts its time). */
  start(id: string, now: number): void {
    this.started.set(id, now)
  }

  /** A message left processing; ids this connection was not processing are ignored. */
  end(id: string, now: number): void {
    const at = this.started.get(id)
    if (at === undefined) return
    this.started.delete(id)
    const ms = Math.max(0, Math.floor(now - at))
    if (this.times.length < TIMINGS_WINDOW) this.times.push(ms)
    else {
      this.times[this.next] = ms
      this.next = (this.next + 1) % TIMINGS_WINDOW
    }
  }

  /** The measurements of the times kept, none when there are none. */
  measurements(): Array<TimingMeasurement> {
    const n = this.times.length
    if (n === 0) return []
    const items = [...this.times].sort((a, b) => a - b)
    // the item at a percentile (in tenths of a percent): index truncated, the last one at most
    const at = (perMille: number) => {
      const i = Math.trunc(perMille * n / 1000)
      return items[i === n ? i - 1 : i]!
    }
    const out: Array<TimingMeasurement> = [
      { key: "Mean", value: BigInt(Math.trunc(items.reduce((a, b) => a + b, 0) / n)) },
      { key: "Median", value: BigInt(items[Math.trunc(n / 2)]!) },
      { key: "Fastest", value: BigInt(items[0]!) }
    ]
    for (let i = 0; i < 5; i++) out.push({ key: `Quintile ${i + 1}`, value: BigInt(at(i * 200)) })
    for (const [key, p] of PERCENTILES) out.push({ key, value: BigInt(at(p)) })
    out.push({ key: "Highest", value: BigInt(items[n - 1]!) })
    return out
  }
}
