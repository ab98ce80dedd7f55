/**
 * The time of a cluster's links: the `Clock` of the Effect services it runs with
 * (`EmbeddedClusterOptions.node.context`; `EmbeddedCluster.layer` passes the layer's), so that the
 * delays tests put on links follow a `TestClock`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/**
 * Now, and a callback after a delay, on one clock.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterClock {
  /** Milliseconds since the epoch. */
  readonly now: () => number
  /** Calls `f` once `ms` have passed (at the next turn of the event loop when `ms` ≤ 0). */
  readonly after: (ms: number, f: () => void) => void
}

/**
 * The clock of `context`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clusterClock = (context: Context.Context<never>): ClusterClock => {
  const clock = Context.get(context, Clock.Clock)
  const run = Effect.runCallbackWith(context)
  return {
    now: () => clock.currentTimeMillisUnsafe(),
    after: (ms, f) => {
      // no sleep without a delay: a TestClock would hold even a zero-length one
      if (ms <= 0) return void setImmediate(f)
      run(Effect.sleep(ms), {
        onExit: (exit) => {
          if (Exit.isSuccess(exit)) f()
        }
      })
    }
  }
}
