/**
 * `event_store.client.monitoring.Monitoring`: `Stats` streams the node's statistics
 * ({@link StatsCollector}) at once, then every `refresh_time_period_in_ms`, until the client cancels.
 * No authentication or access check, as on a real node (`G/Monitoring.cs`,
 * `src/KurrentDB.Core/Services/Transport/Grpc/Monitoring.cs` in kurrent-io/KurrentDB).
 *
 * Bounded as the real one is (a channel of one message, written with `TryWrite`): while the client
 * has not taken the previous message (the call waits for 'drain'), a tick sends nothing. The period
 * is kept between 10 ms (a real node loops on `Task.Delay(0)` for 0; here the node's event loop is
 * not spun) and 2^31-1 ms. The ticks are `Effect.sleep`s run with the node's services, so they
 * follow its `Clock`.
 *
 * @since 0.1.0
 */
import { type Context, Effect } from "effect"
import { MonitoringService, type StatsReq, type StatsResp } from "../../generated/monitoring.ts"
import type { StatsCollector } from "../monitoring/StatsCollector.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation } from "../transport/ServerCall.ts"

/**
 * The methods served: the whole Monitoring service.
 *
 * @since 0.1.0
 * @category constants
 */
export const MonitoringServiceDefinition: ServiceDefinition = MonitoringService

/**
 * What the handler needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface MonitoringContext {
  readonly stats: StatsCollector
  /** The services the ticks run with (their `Clock`). */
  readonly context: Context.Context<never>
  /** Open Stats calls: each entry ends its call (node shutdown). */
  readonly active: Set<() => void>
}

/**
 * Shortest refresh period honoured, in ms.
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_REFRESH_MS = 10

const MAX_REFRESH_MS = 2 ** 31 - 1

/**
 * The Monitoring service implementation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeMonitoringHandler = (ctx: MonitoringContext): ServiceImplementation => ({
  stats: (call: ServerCall<StatsReq, StatsResp>) => {
    const requested = call.request.refreshTimePeriodInMs
    const periodMs = Number(requested < BigInt(MIN_REFRESH_MS) ? BigInt(MIN_REFRESH_MS) : requested > BigInt(MAX_REFRESH_MS) ? BigInt(MAX_REFRESH_MS) : requested)
    let waiting = false
    const send = (nowMs: number) => {
      if (call.closed || waiting) return
      const stats = ctx.stats.collect(nowMs)
      const entries: Array<{ key: string; value: string }> = []
      for (const [key, value] of stats) entries.push({ key, value })
      if (!call.write({ stats: entries })) {
        waiting = true
        call.once("drain", () => {
          waiting = false
        })
      }
    }
    const loop = Effect.clockWith((clock) => clock.currentTimeMillis).pipe(
      Effect.flatMap((now) => Effect.sync(() => send(now))),
      Effect.andThen(Effect.sleep(periodMs)),
      Effect.forever
    )
    const interrupt = Effect.runCallbackWith(ctx.context)(loop)
    const shutdown = () => {
      cleanup()
      call.end()
    }
    const cleanup = () => {
      ctx.active.delete(shutdown)
      interrupt()
    }
    ctx.active.add(shutdown)
    call.once("cancelled", cleanup)
  }
})
