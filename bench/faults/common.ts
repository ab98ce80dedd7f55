/**
 * What every fault scenario (bench/faults/*.ts) shares: a cluster for the scenario's lifetime, a
 * client connected to it, a logger that keeps the client's recovery warnings (every retry, resume
 * and reconnect is logged: the scenarios count them), the members' logs as event ids, and the
 * figures a scenario returns.
 *
 * A scenario is an Effect returning its {@link Figures}; it never throws on a broken guarantee but
 * lists it in `violations` (the test asserts the list is empty, `npm run faults` prints it).
 */
import * as Effect from "effect/Effect"
import { loadavg } from "node:os"
import { type EmbeddedClusterOptions, type RunningCluster, startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { idsOf as memberIds } from "../../test/server/clusterHelpers.ts"
import { type RecoveryLog, recoveryLog } from "../../test/support/recoveryLog.ts"

/** Runs an effect with a client of its own (the tests' helper: a fresh layer per connection). */
export { withClient } from "../../test/client/_support.ts"

/** The figures of one scenario run. */
export interface Figures {
  readonly scenario: string
  /** Broken guarantees, in words; empty when the scenario passed. */
  readonly violations: Array<string>
  /** Wall time of the scenario, ms. */
  readonly ms: number
  /** `/proc/loadavg`'s first figure at the end. */
  readonly load: number
  readonly [figure: string]: unknown
}

/** The client's warnings (retries, resumes, reconnects) and errors, echoed to stderr when `EFFECT_ESDB_FAULTS_VERBOSE` is set. */
export const warningLog = (): RecoveryLog =>
  recoveryLog({ errors: true, echo: process.env["EFFECT_ESDB_FAULTS_VERBOSE"] !== undefined })

/** A cluster (its log lines kept, not printed) for the scope of `f`; closed afterwards. */
export const withCluster = <A, E, R>(
  options: EmbeddedClusterOptions,
  f: (cluster: RunningCluster, clusterLog: Array<string>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const lines: Array<string> = []
  return Effect.acquireUseRelease(
    Effect.promise(() => startEmbeddedCluster({ nodes: 3, logger: (m) => void lines.push(m), ...options })),
    (cluster) => f(cluster, lines),
    (cluster) => Effect.promise(() => cluster.close())
  )
}

/** The event ids a member has made readable, in log order (its `$all`; none while it is down). */
export const idsOf = (cluster: RunningCluster, index: number): Array<string> =>
  cluster.store(index) === undefined ? [] : memberIds(cluster, index)

/** The ids of the events in users' streams (not `$`-prefixed) a member holds, in log order: what `$all` delivers to a user. */
export const userIdsOf = (cluster: RunningCluster, index: number): Array<string> => {
  const store = cluster.store(index)
  if (store === undefined) return []
  const ids: Array<string> = []
  for (let i = 0; i < store.log.length; i++) {
    const r = store.log.record(i)
    if (!r.stream.startsWith("$")) ids.push(r.eventId)
  }
  return ids
}

/** How often each id occurs. */
export const countIds = (ids: Iterable<string>): Map<string, number> => {
  const count = new Map<string, number>()
  for (const id of ids) count.set(id, (count.get(id) ?? 0) + 1)
  return count
}

/** Polls `check` every `intervalMs` until it holds; false once `timeoutMs` has passed. */
export const waitFor = (check: () => boolean, timeoutMs = 30_000, intervalMs = 10): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const until = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > until) return false
      yield* Effect.sleep(intervalMs)
    }
    return true
  })

/** Wraps a scenario body: its wall time and the load average are added to what it returns. */
export const measured = <F extends { readonly violations: Array<string> }, E, R>(
  scenario: string,
  body: Effect.Effect<F, E, R>
): Effect.Effect<F & Figures, E, R> =>
  Effect.suspend(() => {
    const t0 = performance.now()
    return Effect.map(body, (f) => ({ scenario, ...f, ms: Math.round(performance.now() - t0), load: loadavg()[0]! }))
  })

/** `a` and `b` as sequences: "" when equal, else where they first differ. */
export const firstDifference = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): string => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `at ${i}: ${a[i]} vs ${b[i]}`
  return a.length === b.length ? "" : `lengths ${a.length} vs ${b.length}`
}
