/**
 * Scenario 5: a member is cut off (its links to its peers and to its clients) and comes back.
 * First a follower, while `events / 2` events are appended (over 8 streams); then the leader,
 * during `events / 2` more from 8 fibers (it is replaced; what it had not committed is cut when
 * it returns). Each time, once healed, the member catches up, and reads from it (a client of that
 * member alone: `$all` and every stream) equal the leader's. Every acknowledged append is on every
 * member exactly once. Figures: the catch-up time of each, the appends' retries, the records the
 * returning leader truncated (from the cluster's log).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { NewEvent } from "../../src/domain/NewEvent.ts"
import { Streams } from "../../src/index.ts"
import type { RunningCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { countIds, firstDifference, idsOf, measured, waitFor, warningLog, withClient, withCluster } from "./common.ts"

/** Sizes of the scenario. */
export interface CutOffOptions {
  readonly events: number
}

const STREAMS = 8

/**
 * `$all` (users' events) and every stream, as a client of that member alone reads them (a single
 * host: no discovery; `nodePreference=follower`, so no `requires-leader` header sends it to the
 * leader). `moved`: the client's reconnects (none, or it did not read from that member).
 */
const readsOf = (cluster: RunningCluster, index: number, streams: ReadonlyArray<string>) => {
  const log = warningLog()
  return withClient(
    `esdb://127.0.0.1:${cluster.members()[index]!.port}?tls=false&nodePreference=follower`,
    log.capture(Effect.gen(function*() {
      const api = yield* Streams.Streams
      const all = Array.from(yield* Stream.runCollect(api.readAll()), (e) => e.id)
      const each = yield* Effect.forEach(streams, (s) => Effect.map(Stream.runCollect(api.read(s)), (c) => Array.from(c, (e) => e.id)))
      return { all, each, moved: log.warnings.length }
    }))
  )
}

/** Runs the scenario. */
export const cutOff = (options: CutOffOptions) =>
  measured("cut-off", withCluster({}, (cluster, clusterLog) =>
    Effect.gen(function*() {
      const violations: Array<string> = []
      const log = warningLog()
      const streams = Array.from({ length: STREAMS }, (_, i) => `cut-off-${Date.now()}-${i}`)
      const acked: Array<string> = []
      const half = Math.floor(options.events / 2)
      const perStream = Math.ceil(half / STREAMS)
      const appendRound = (round: number, onAck?: (n: number) => void) =>
        Effect.flatMap(Streams.Streams, (api) =>
          Effect.forEach(streams, (stream, s) =>
            Effect.forEach(Array.from({ length: perStream }, (_, k) => k), (k) => {
              const event = new NewEvent({ type: "E", data: JSON.stringify({ round, s, k }) })
              return api.append(stream, event, { currentVersion: "any" }).pipe(
                Effect.tap(() => Effect.sync(() => {
                  acked.push(event.id)
                  onAck?.(acked.length)
                })),
                Effect.ignore
              )
            }, { discard: true }), { concurrency: "unbounded", discard: true }))
      /** Heals `index`, waits until it holds the leader's log, and compares the reads from it. */
      const healAndCompare = (index: number, what: string) =>
        Effect.gen(function*() {
          const t0 = performance.now()
          yield* Effect.promise(() => cluster.heal(index))
          const leader = cluster.leader()
          if (leader === undefined) {
            violations.push(`${what}: no leader after the heal`)
            return null
          }
          const caughtUp = yield* waitFor(() =>
            firstDifference(idsOf(cluster, index), idsOf(cluster, cluster.leader()!)) === "" &&
            cluster.members()[index]!.state === "Follower", 60_000)
          const catchUpMs = performance.now() - t0
          if (!caughtUp) {
            violations.push(`${what}: not caught up (${firstDifference(idsOf(cluster, index), idsOf(cluster, cluster.leader()!))})`)
          }
          const [theirs, leaders] = [yield* readsOf(cluster, index, streams), yield* readsOf(cluster, cluster.leader()!, streams)]
          if (theirs.moved > 0) violations.push(`${what}: the reads from it went elsewhere (${theirs.moved} warnings)`)
          const d = firstDifference(theirs.all, leaders.all)
          if (d !== "") violations.push(`${what}: $all read from it differs from the leader's ${d}`)
          theirs.each.forEach((ids, i) => {
            const e = firstDifference(ids, leaders.each[i]!)
            if (e !== "") violations.push(`${what}: ${streams[i]} read from it differs from the leader's ${e}`)
          })
          return Math.round(catchUpMs)
        })
      const figures = yield* withClient(
        cluster.connectionString,
        log.capture(Effect.gen(function*() {
          // a follower cut off while the others take writes
          const leader0 = cluster.leader()!
          const follower = cluster.members().find((m) => m.index !== leader0 && m.alive)!.index
          yield* Effect.promise(() => cluster.cut(follower, { peers: true, clients: true }))
          yield* appendRound(0)
          const behind = idsOf(cluster, follower).length < idsOf(cluster, leader0).length
          if (!behind) violations.push("the cut follower was not behind")
          const followerCatchUpMs = yield* healAndCompare(follower, "follower")
          // the leader cut off during appends: replaced, and cut back to what was committed when it returns
          const leader1 = cluster.leader()!
          let cutting: Promise<void> | undefined
          const retriesBefore = log.count("retry")
          yield* appendRound(1, (n) => {
            if (cutting === undefined && n >= half + Math.floor(half / 3)) {
              cutting = cluster.cut(leader1, { peers: true, clients: true })
            }
          })
          if (cutting === undefined) violations.push("the leader was never cut")
          else yield* Effect.promise(() => cutting!)
          if (cluster.leader() === leader1) violations.push("the cut leader still leads")
          const leaderCatchUpMs = yield* healAndCompare(leader1, "old leader")
          for (const m of cluster.members()) {
            const count = countIds(idsOf(cluster, m.index))
            const bad = acked.filter((id) => count.get(id) !== 1).length
            if (bad > 0) violations.push(`member ${m.index}: ${bad} acknowledged appends not there exactly once`)
          }
          return {
            followerCatchUpMs,
            leaderCatchUpMs,
            acknowledged: acked.length,
            retriedAroundLeaderCut: log.count("retry") - retriesBefore,
            reconnects: log.count("reconnect"),
            truncations: clusterLog.filter((l) => l.includes("truncation")),
            leaders: [leader0, leader1, cluster.leader()]
          }
        }))
      )
      return { violations, events: options.events, ...figures }
    })))
