/**
 * Scenario 1: the leader is killed during `appends` appends from `fibers` fibers (each its own
 * stream, one event per append, `currentVersion: "any"`), with the client's default retry
 * Schedule. Every acknowledged append must be in the new leader's log exactly once (and on every
 * running member). Figures: acknowledged, retried (the client's logged retries), failed with a
 * typed error (by tag), the longest stall (the longest time no append was acknowledged, and the
 * slowest single append).
 */
import * as Effect from "effect/Effect"
import { NewEvent } from "../../src/domain/NewEvent.ts"
import { Streams } from "../../src/index.ts"
import { countIds, idsOf, measured, warningLog, withClient, withCluster } from "./common.ts"

/** Sizes of the scenario. */
export interface LeaderKillOptions {
  readonly appends: number
  readonly fibers: number
  /** The leader is killed once this many appends are acknowledged (default: a third). */
  readonly killAfter?: number | undefined
  /** The client's NodePreference (default leader: follower sends the appends through a follower, which forwards them). */
  readonly nodePreference?: "leader" | "follower" | undefined
  /**
   * `any` (default): `currentVersion: "any"`; `exact`: each append expects the revision of the
   * fiber's previous one, so a retry of an append that had landed must be recognised by its ids.
   */
  readonly currentVersion?: "any" | "exact" | undefined
  /** More connection-string settings (`&discoveryInterval=10`…); default none. */
  readonly settings?: string | undefined
}

/** Runs the scenario. */
export const leaderKill = (options: LeaderKillOptions) =>
  measured("leader-kill", withCluster({}, (cluster) =>
    Effect.gen(function*() {
      const violations: Array<string> = []
      const first = cluster.leader()!
      const killAfter = options.killAfter ?? Math.floor(options.appends / 3)
      const perFiber = Math.ceil(options.appends / options.fibers)
      const log = warningLog()
      const acked: Array<string> = []
      const failed = new Map<string, number>()
      let untyped = 0
      // with expected revisions, a fiber whose append failed stops (its next revision is unknown)
      const stopped = new Set<number>()
      let notAttempted = 0
      let lastAck = performance.now()
      let longestGap = 0
      let slowest = 0
      let killed: Promise<void> | undefined
      const started = performance.now()
      yield* withClient(
        `${cluster.connectionString}&nodePreference=${options.nodePreference ?? "leader"}${options.settings ?? ""}`,
        log.capture(Effect.flatMap(Streams.Streams, (api) =>
          Effect.forEach(Array.from({ length: options.fibers }, (_, f) => f), (f) => {
            const stream = `leader-kill-${f}-${Date.now()}`
            return Effect.forEach(Array.from({ length: perFiber }, (_, k) => k), (k) => {
              if (f * perFiber + k >= options.appends) return Effect.void
              if (stopped.has(f)) {
                notAttempted++
                return Effect.void
              }
              const event = new NewEvent({ type: "Appended", data: JSON.stringify({ f, k }) })
              return Effect.suspend(() => {
                const t0 = performance.now()
                const currentVersion = options.currentVersion === "exact" ? (k === 0 ? "no_stream" as const : BigInt(k - 1)) : "any" as const
                return api.append(stream, event, { currentVersion }).pipe(
                  Effect.result,
                  Effect.map((result) => {
                    const now = performance.now()
                    slowest = Math.max(slowest, now - t0)
                    if (result._tag === "Success") {
                      longestGap = Math.max(longestGap, now - lastAck)
                      lastAck = now
                      acked.push(event.id)
                      if (acked.length === killAfter) killed = cluster.kill(first)
                    } else {
                      const e = result.failure as { readonly _tag?: unknown }
                      if (typeof e._tag === "string") failed.set(e._tag, (failed.get(e._tag) ?? 0) + 1)
                      else untyped++
                      if (options.currentVersion === "exact") stopped.add(f)
                    }
                  })
                )
              })
            }, { discard: true })
          }, { concurrency: "unbounded", discard: true })))
      )
      const elapsed = performance.now() - started
      if (killed !== undefined) yield* Effect.promise(() => killed!)
      else violations.push(`the leader was never killed (${acked.length} acknowledged, kill after ${killAfter})`)
      const second = cluster.leader()
      if (second === undefined || second === first) violations.push(`no new leader (leader: ${second})`)
      else {
        const count = countIds(idsOf(cluster, second))
        const missing = acked.filter((id) => count.get(id) === undefined).length
        const twice = acked.filter((id) => (count.get(id) ?? 0) > 1).length
        if (missing > 0) violations.push(`${missing} acknowledged appends missing on the new leader`)
        if (twice > 0) violations.push(`${twice} acknowledged appends more than once on the new leader`)
        for (const m of cluster.members()) {
          if (!m.alive || m.index === second) continue
          const theirs = countIds(idsOf(cluster, m.index))
          const lacking = acked.filter((id) => theirs.get(id) !== 1).length
          if (lacking > 0) violations.push(`member ${m.index}: ${lacking} acknowledged appends not there exactly once`)
        }
      }
      if (untyped > 0) violations.push(`${untyped} appends failed with an untyped error`)
      const failedTotal = [...failed.values()].reduce((a, b) => a + b, 0)
      if (acked.length + failedTotal + untyped + notAttempted !== options.appends) {
        violations.push(`${options.appends - acked.length - failedTotal - untyped - notAttempted} appends neither acknowledged nor failed`)
      }
      return {
        violations,
        appends: options.appends,
        nodePreference: options.nodePreference ?? "leader",
        currentVersion: options.currentVersion ?? "any",
        fibers: options.fibers,
        killedAfter: killAfter,
        acknowledged: acked.length,
        retried: log.count("retry", "Streams.append"),
        reconnects: log.count("reconnect"),
        failed: Object.fromEntries(failed),
        notAttempted,
        longestStallMs: Math.round(longestGap),
        slowestAppendMs: Math.round(slowest),
        appendsPerSecond: Math.round(acked.length / (elapsed / 1000))
      }
    })))
