/**
 * Scenario 6: `subscriptions` catch-up subscriptions (a third each from a client preferring the
 * leader, a follower, any member; on 10 streams) are live; an election moves them (each resumes,
 * logged) and each gets one more event; then all of them are interrupted. Afterwards no member
 * holds an open call for them: the members' own counters (`nodeStats`: open Read calls, store
 * listeners) are back where they were before. Then again, interrupted while the leader is killed
 * and the subscriptions on it look for the new one; once it is back, nothing is held. Figures: the open reads at the peak and per member,
 * the resumes, the time until every member had let go.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { NewEvent } from "../../src/domain/NewEvent.ts"
import { Streams } from "../../src/index.ts"
import type { RunningCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { nodeStats } from "../../src/server/EmbeddedNode.ts"
import { measured, waitFor, warningLog, withClient, withCluster } from "./common.ts"

/** Sizes of the scenario. */
export interface InterruptedOptions {
  readonly subscriptions: number
}

const STREAMS = 10
const PREFERENCES = ["leader", "follower", "random"] as const

/** Open Read calls and store listeners over the running members. */
const held = (cluster: RunningCluster) => {
  let reads = 0
  let listeners = 0
  const perMember: Array<number> = []
  for (const m of cluster.members()) {
    const node = cluster.node(m.index)
    const stats = node === undefined ? undefined : nodeStats(node)
    perMember.push(stats?.activeReads ?? 0)
    reads += stats?.activeReads ?? 0
    listeners += stats?.storeListeners ?? 0
  }
  return { reads, listeners, perMember }
}

/** Runs the scenario. */
export const interrupted = (options: InterruptedOptions) =>
  measured("interrupted", withCluster({}, (cluster) =>
    Effect.gen(function*() {
      const violations: Array<string> = []
      const log = warningLog()
      const streams = Array.from({ length: STREAMS }, (_, i) => `interrupted-${Date.now()}-${i}`)
      const delivered = new Array<number>(options.subscriptions).fill(0)
      const connection = cluster.connectionString
      yield* withClient(connection, Effect.flatMap(Streams.Streams, (api) =>
        Effect.forEach(streams, (s) => api.append(s, new NewEvent({ type: "E", data: "{}" }), { currentVersion: "no_stream" }))))
      const baseline = held(cluster)
      /** One client per preference, each with its share of the subscriptions, until interrupted. */
      const clients = PREFERENCES.map((preference, p) =>
        withClient(
          `${connection}&nodePreference=${preference}`,
          log.capture(Effect.flatMap(Streams.Streams, (api) =>
            Effect.forEach(
              Array.from({ length: options.subscriptions }, (_, i) => i).filter((i) => i % PREFERENCES.length === p),
              (i) =>
                api.subscribeToStream(streams[i % STREAMS]!).pipe(
                  Stream.runForEach(() => Effect.sync(() => void delivered[i]!++))
                ),
              { concurrency: "unbounded", discard: true }
            )))
        ))
      const fibers = yield* Effect.forEach(clients, (c) => Effect.forkChild(c))
      if (!(yield* waitFor(() => delivered.every((n) => n >= 1), 120_000))) {
        violations.push(`${delivered.filter((n) => n < 1).length} subscriptions never started`)
      }
      const peak = held(cluster)
      const leaderBefore = cluster.leader()
      yield* Effect.promise(() => cluster.electLeader())
      yield* withClient(connection, Effect.flatMap(Streams.Streams, (api) =>
        Effect.forEach(streams, (s) => api.append(s, new NewEvent({ type: "E", data: "{}" }), { currentVersion: 0n }))))
      if (!(yield* waitFor(() => delivered.every((n) => n >= 2), 120_000))) {
        violations.push(`${delivered.filter((n) => n < 2).length} subscriptions did not resume after the election`)
      }
      const tooMany = delivered.filter((n) => n > 2).length
      if (tooMany > 0) violations.push(`${tooMany} subscriptions delivered an event twice`)
      const afterElection = held(cluster)
      const t0 = performance.now()
      yield* Effect.forEach(fibers, Fiber.interrupt, { discard: true })
      const interruptMs = performance.now() - t0
      const released = yield* waitFor(() => {
        const h = held(cluster)
        return h.reads <= baseline.reads && h.listeners <= baseline.listeners
      }, 60_000)
      const releasedMs = performance.now() - t0
      const after = held(cluster)
      if (!released) violations.push(`the members still hold ${after.reads} reads and ${after.listeners} listeners (before: ${baseline.reads}, ${baseline.listeners})`)
      // again, but interrupted while they resume: the leader killed, the subscriptions on it
      // looking for the new one when they are interrupted; it comes back, and nothing is left open
      delivered.fill(0)
      const again = yield* Effect.forEach(clients, (c) => Effect.forkChild(c))
      if (!(yield* waitFor(() => delivered.every((n) => n >= 2), 120_000))) {
        violations.push(`${delivered.filter((n) => n < 2).length} subscriptions never started (second round)`)
      }
      const victim = cluster.leader()!
      const resumesBefore = log.count("resume")
      const killing = cluster.kill(victim)
      yield* waitFor(() => log.count("resume") > resumesBefore, 30_000)
      yield* Effect.forEach(again, Fiber.interrupt, { discard: true })
      yield* Effect.promise(() => killing)
      yield* Effect.promise(() => cluster.restart(victim))
      const releasedMidResume = yield* waitFor(() => {
        const h = held(cluster)
        return h.reads <= baseline.reads && h.listeners <= baseline.listeners
      }, 60_000)
      const afterMidResume = held(cluster)
      if (!releasedMidResume) {
        violations.push(`interrupted while resuming: the members still hold ${afterMidResume.reads} reads and ${afterMidResume.listeners} listeners`)
      }
      return {
        violations,
        subscriptions: options.subscriptions,
        leaders: [leaderBefore, cluster.leader()],
        openReadsBefore: baseline.reads,
        openReadsPeak: peak.reads,
        openReadsPerMember: peak.perMember,
        openReadsAfterElection: afterElection.reads,
        openReadsAfterInterrupt: after.reads,
        storeListenersAfterInterrupt: after.listeners,
        resumes: log.count("resume"),
        interruptMs: Math.round(interruptMs),
        releasedMs: Math.round(releasedMs),
        openReadsAfterInterruptMidResume: afterMidResume.reads
      }
    })))
